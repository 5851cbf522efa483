"""The committed OpenAPI document is the contract: it must match the app exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.contract import render

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


def _operations():
    document = json.loads(render())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation, document


OPERATIONS = {name: (operation, document) for name, operation, document in _operations()}


def _json_media(content: dict) -> list[tuple[str, dict]]:
    return [(kind, media) for kind, media in (content or {}).items() if kind == "application/json" or kind.endswith("+json")]


def _examples(media: dict, document: dict) -> list:
    found = list(media.get("examples", {}).values())
    found = [e["value"] for e in found if "value" in e]
    if "example" in media:
        found.append(media["example"])
    schema = media.get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return found + list(schema.get("examples", []))


def _validator(schema: dict, document: dict):
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_json_body_has_examples_that_match_its_schema(name: str) -> None:
    """Partners' developers read the contract first: each request and each success response shows
    a real example, and every example is valid against the schema it illustrates."""
    operation, document = OPERATIONS[name]
    bodies = [("request", kind, media) for kind, media in _json_media(operation.get("requestBody", {}).get("content"))]
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            bodies += [(f"response {status}", kind, media) for kind, media in _json_media(response.get("content"))]
    for where, kind, media in bodies:
        examples = _examples(media, document)
        assert examples, f"{name}: the {where} ({kind}) has no example"
        validator = _validator(media.get("schema", {}), document)
        for example in examples:
            errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(example)]
            assert not errors, f"{name}: an example of the {where} does not match its schema: {errors}"


def _property_names(document: dict) -> set[str]:
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                names.add(key)
                walk(value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document.get("components", {}))
    walk(document.get("webhooks", {}))
    return names


def test_one_word_per_idea_across_the_contract() -> None:
    """A partner developer meets one word for each idea: `status` (never `state`) on every object,
    money as `amount` or `amount_<what>` (Stripe's `unit_amount` aside), and the invoicing domain
    named `invoicing` in paths and tags (the word `billing` stays for the billing mode and e-mail)."""
    document = json.loads(render())
    names = _property_names(document)
    assert "state" not in names and not {n for n in names if n.endswith("_state")}, "say `status`"
    assert not {n for n in names if n.endswith("_amount") and n != "unit_amount"}, "say `amount_<what>`"
    assert not [p for p in document["paths"] if "/billing/" in p]
    assert not [t for _n, op, _d in _operations() for t in op["tags"] if t == "billing"]
    for name, (operation, _document) in OPERATIONS.items():
        params = {p["name"] for p in operation.get("parameters", [])}
        assert "state" not in params, f"{name}: filter by `status`"
