"""The committed OpenAPI document is the contract: it must match the app exactly."""

from __future__ import annotations

import json
from pathlib import Path

from api.openapi_doc import render

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text())
    current = json.loads(render())
    assert committed == current, "openapi/openapi.json is stale: run `syndicate openapi --output openapi/openapi.json`"


def test_every_operation_has_summary_and_tags() -> None:
    document = json.loads(render())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("tags"), f"{method.upper()} {path} has no tags"
