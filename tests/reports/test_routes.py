"""The report endpoints: roles, ranges, and figures over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.builders import make_article, make_licence, make_partner, staff_headers
from tests.reports.data import add_usage, paid_invoice


def test_revenue_report_for_finance(client, session, settings) -> None:
    partner = make_partner(session, currency="EUR")
    paid_invoice(session, settings, partner=partner, amount=12_345, paid_at=datetime(2026, 3, 9, tzinfo=UTC))
    headers = staff_headers(client, session, roles=["finance"])
    response = client.get("/v1/staff/reports/revenue", params={"from": "2026-01-01", "to": "2027-01-01"},
                          headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == ("2026-01-01", "2027-01-01")
    assert body["paid_by_month"] == [{"month": "2026-03", "currency": "EUR", "amount": 12_345, "invoices": 1}]
    assert body["paid"] == [{"currency": "EUR", "amount": 12_345, "invoices": 1}]


def test_usage_report_for_licensing(client, session) -> None:
    partner, article = make_partner(session, name="Outlet Daily"), make_article(session, headline="Top story")
    licence = make_licence(session, partner=partner, articles=[article])
    add_usage(session, licence, article, at=datetime(2026, 6, 2, tzinfo=UTC), billable=True)
    add_usage(session, licence, article, at=datetime(2026, 6, 3, tzinfo=UTC))
    headers = staff_headers(client, session, roles=["licensing"])
    response = client.get("/v1/staff/reports/usage", params={"from": "2026-06-01", "to": "2026-07-01"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == {"deliveries": 2, "republications": 1}
    assert body["by_partner"] == [{"partner_id": partner.id, "partner_name": "Outlet Daily", "deliveries": 2,
                                   "republications": 1}]
    assert body["top_articles"][0]["headline"] == "Top story"


@pytest.mark.parametrize("path", ["/v1/staff/reports/revenue", "/v1/staff/reports/usage"])
def test_editor_is_refused_and_anonymous_is_unauthenticated(client, session, path) -> None:
    response = client.get(path, headers=staff_headers(client, session, roles=["editor"]))
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/role-required"
    assert client.get(path).json()["type"] == "/problems/unauthenticated"


@pytest.mark.parametrize(("params", "status", "problem"), [
    ({"from": "2026-05-01", "to": "2026-04-01"}, 422, "/problems/bad-report-range"),
    ({"from": "2026-05-01", "to": "2026-05-01"}, 422, "/problems/bad-report-range"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, 422, "/problems/report-range-too-long"),
    ({"from": "yesterday", "to": "2026-05-01"}, 422, "/problems/validation"),
])
def test_bad_ranges_get_specific_problems(client, session, params, status, problem) -> None:
    headers = staff_headers(client, session, roles=["admin"])
    for path in ("/v1/staff/reports/revenue", "/v1/staff/reports/usage"):
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["type"] == problem


def test_defaults_cover_this_month(client, session) -> None:
    headers = staff_headers(client, session, roles=["finance"])
    body = client.get("/v1/staff/reports/usage", headers=headers).json()
    today = datetime.now(UTC).date()
    assert body["from"] == today.replace(day=1).isoformat() and body["to"] > today.isoformat()
