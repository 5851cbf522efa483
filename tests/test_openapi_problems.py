"""The contract declares every error an operation can answer at the edge, always as
`application/problem+json` with the Problem schema, and a 405 names every method of its path."""

from __future__ import annotations

import json

import pytest

from tests.contract import render

DOCUMENT = json.loads(render())
OPERATIONS = [(method, path, operation) for path, operations in DOCUMENT["paths"].items()
              for method, operation in operations.items()]


def _name(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[_name(m, p) for m, p, _ in OPERATIONS])
def test_each_operation_declares_the_edge_problems(method: str, path: str, operation: dict) -> None:
    declared = set(operation["responses"])
    if path.startswith("/v1/"):
        assert {"429", "503"} <= declared
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    if operation.get("security"):
        assert "401" in declared
    if "requestBody" in operation:
        assert {"400", "413"} <= declared


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[_name(m, p) for m, p, _ in OPERATIONS])
def test_error_bodies_are_problem_json(method: str, path: str, operation: dict) -> None:
    for status, response in operation["responses"].items():
        if status[0] in "45":
            assert set(response["content"]) == {"application/problem+json"}, f"{status} of {_name(method, path)}"
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_fastapis_own_validation_error_shape_is_not_in_the_contract() -> None:
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/v1/partners/me", "GET, PATCH"),
    ("PUT", "/v1/partners/me/contacts/pct_x", "DELETE, GET, PATCH"),
    ("PUT", "/v1/articles", "GET"),
])
def test_method_not_allowed_lists_every_method_of_the_path(client, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405 and response.headers["allow"] == allow
    assert response.json()["type"] == "/problems/method-not-allowed"
