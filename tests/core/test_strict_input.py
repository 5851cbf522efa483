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


@pytest.mark.parametrize("value", ["2500", 2500.0, True])
@pytest.mark.parametrize("call", ["preview", "publish"])
def test_rate_card_integers_are_json_integers(client, session, value, call) -> None:
    from api.licensing.ratecard import DEFAULT_RATE_CARD, ensure_default_rate_card

    ensure_default_rate_card(session)
    staff = staff_headers(client, session, roles=["licensing"])
    card = {**DEFAULT_RATE_CARD.model_dump(mode="json"), "translation_surcharge_bp": value}
    if call == "preview":
        response = client.post("/v1/staff/rate-card/preview", headers=staff, json={"card": card})
    else:
        response = client.put("/v1/staff/rate-card", headers=staff, json={"card": card})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "body.card.translation_surcharge_bp"


@pytest.mark.parametrize("value", ["5", 5.0, True])
@pytest.mark.parametrize("path", ["/v1/staff/auto-approval-rules", "/v1/staff/auto-approval-rules/dry-run"])
def test_rule_amounts_are_json_integers(client, session, value, path) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    response = client.post(path, headers=staff, json={"name": "Small", "max_amounts": {"GBP": value}})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.max_amounts.GBP"
    months = client.post(path, headers=staff, json={"name": "Small", "max_amounts": {"GBP": 5}, "max_months": "3"})
    assert months.status_code == 422 and months.json()["errors"][0]["field"] == "body.max_months"


@pytest.mark.parametrize("value", ["0", "1700000000", "0.5"])
def test_licence_end_filter_is_iso_8601(client, session, value) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    response = client.get("/v1/staff/licences", params={"ends_before": value}, headers=staff)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.ends_before"
    # A day without a time is read as UTC midnight (it was a 500: a naive time compared with a UTC column).
    assert client.get("/v1/staff/licences", params={"ends_before": "2026-01-01"}, headers=staff).status_code == 200


def test_an_imported_documents_own_url_must_be_a_url_even_when_the_parameter_replaces_it(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    doc = {"external_id": "e1", "headline": "H", "body_html": "<p>b</p>", "canonical_url": "0", "section": "news"}
    response = client.post("/v1/staff/articles/import", params={"canonical_url": "https://www.middleeasteye.net/news/a"},
                           json=[doc], headers=editor)
    assert response.status_code == 422 and response.json()["type"] == "/problems/invalid-article"
    assert response.json()["errors"][0]["field"] == "canonical_url"
