"""Licensing's part of the contract: a POST that takes an `Idempotency-Key` declares the problems
the key can cause, and the lists and decision bodies document real examples."""

from __future__ import annotations

import json

import pytest

from tests.contract import render

DOCUMENT = json.loads(render())
IDEMPOTENT = sorted(
    (method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method, operation in operations.items()
    if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])))


def _problems(operation: dict) -> dict[str, str]:
    """problem slug -> the status it is declared under"""
    return {slug: status for status, response in operation["responses"].items()
            for media in response.get("content", {}).values() for slug in media.get("examples", {})}


def test_the_idempotent_operations_are_known() -> None:
    assert IDEMPOTENT == [("POST", "/v1/licence-requests"), ("POST", "/v1/licence-requests/{request_id}/accept"),
                          ("POST", "/v1/staff/licence-requests/{request_id}/approve"),
                          ("POST", "/v1/staff/licences/{licence_id}/invoice-now"),
                          ("POST", "/v1/staff/partners/{partner_id}/invoice-now")]


@pytest.mark.parametrize(("method", "path"), IDEMPOTENT)
def test_operations_with_an_idempotency_key_declare_its_problems(method: str, path: str) -> None:
    declared = _problems(DOCUMENT["paths"][path][method.lower()])
    assert {slug: declared.get(slug) for slug in ("idempotency-key-reused", "idempotency-key-in-progress",
                                                  "idempotency-key-invalid")} == {
        "idempotency-key-reused": "422", "idempotency-key-in-progress": "409", "idempotency-key-invalid": "400"}


@pytest.mark.parametrize(("method", "path"), IDEMPOTENT)
def test_the_idempotency_key_states_its_length_limit(method: str, path: str) -> None:
    [header] = [p for p in DOCUMENT["paths"][path][method.lower()]["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["schema"]["maxLength"] == 255 and header["schema"]["minLength"] == 1


def test_the_approval_example_is_a_whole_answer() -> None:
    example, = DOCUMENT["components"]["schemas"]["ApprovalRead"]["examples"]
    request_fields = set(DOCUMENT["components"]["schemas"]["StaffLicenceRequestRead"]["properties"])
    assert set(example["request"]) == request_fields
    assert example["request"]["licence_id"] == example["licence_id"] and example["request"]["status"] == "approved"
