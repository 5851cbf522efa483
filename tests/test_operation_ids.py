"""Every operation has a short, stable id (`articles.list`), unique, and the contract carries them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from api.core.operation_ids import OPERATION_ID
from tests.contract import render

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def _ids(document: dict) -> dict[str, str]:
    found = {}
    for section in ("paths", "webhooks"):
        for path, operations in document.get(section, {}).items():
            for method, operation in operations.items():
                found[f"{method.upper()} {path}"] = operation["operationId"]
    return found


def test_operation_ids_are_short_dotted_and_unique() -> None:
    ids = _ids(json.loads(render()))
    assert [name for name, i in ids.items() if not OPERATION_ID.match(i)] == []
    assert [i for i, n in Counter(ids.values()).items() if n > 1] == []


def test_operation_ids_read_as_resource_and_action() -> None:
    ids = _ids(json.loads(render()))
    assert ids["GET /v1/articles"] == "articles.list"
    assert ids["GET /v1/articles/{article_id}"] == "articles.get"
    assert ids["POST /v1/licence-requests"] == "licence_requests.create"
    assert ids["GET /v1/licence-requests/form"] == "licence_requests.form.get"
    assert ids["POST /v1/quotes"] == "quotes.create"
    assert ids["POST /v1/staff/licences/{licence_id}/amendments"] == "staff.licences.amend"
    assert ids["POST /v1/staff/login"] == "staff.login"
    assert ids["POST /v1/staff/articles/import"] == "staff.articles.import"
    assert ids["GET /v1/content/articles/{article_id}"] == "content.articles.get"
    assert ids["GET /healthz"] == "health.live"


def test_committed_contract_has_the_apps_operation_ids() -> None:
    assert _ids(json.loads(COMMITTED.read_text())) == _ids(json.loads(render()))
