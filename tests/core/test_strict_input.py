"""Query times are ISO 8601 with a date, and booleans in JSON bodies are JSON booleans: pydantic's
lax mode would read `updated_since=0.5` as a Unix time and `"notify": 0` as false."""

from __future__ import annotations

import pytest

from tests.builders import staff_headers
from tests.licensing.helpers import partner_with_key, request_body
from tests.partners.test_routes import register


@pytest.mark.parametrize("value", ["0.5", "0", "1700000000", "yesterday", "12:00"])
def test_query_times_must_be_iso_8601_with_a_date(client, session, value) -> None:
    _partner, headers = partner_with_key(session)
    session.commit()
    response = client.get("/v1/articles", params={"updated_since": value}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.updated_since"


@pytest.mark.parametrize("value", ["2026-01-01", "2026-01-01T00:00:00Z", "2026-01-01T02:00:00+02:00"])
def test_iso_8601_query_times_are_read(client, session, value) -> None:
    _partner, headers = partner_with_key(session)
    session.commit()
    assert client.get("/v1/articles", params={"updated_since": value}, headers=headers).status_code == 200


def test_report_days_must_be_iso_dates(client, session) -> None:
    finance = staff_headers(client, session, roles=["finance"])
    response = client.get("/v1/staff/reports/revenue", params={"from": "0"}, headers=finance)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.from"


@pytest.mark.parametrize("value", [0, 1, "true", "no", None])
def test_booleans_in_bodies_are_strict(client, value) -> None:
    key = {"X-API-Key": register(client)["api_key"]["key"]}
    response = client.post("/v1/partners/me/contacts", json={"name": "Bo", "email": "bo@outlet.example", "notify": value},
                           headers=key)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.notify"


def test_body_times_are_not_unix_timestamps(client, session) -> None:
    _partner, headers = partner_with_key(session)
    session.commit()
    response = client.post("/v1/quotes", headers=headers, json={**request_body(), "starts_at": 1900000000})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.starts_at"
