"""Staff and partner invoice API."""

from __future__ import annotations

from sqlmodel import select

from api.invoicing.models import Invoice
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from tests.builders import make_api_key, make_article, make_licence, make_partner, staff_headers
from tests.invoicing.conftest import add_usage
from tests.invoicing.test_periods import IN_PERIOD, PERIOD


def _ledger_invoices(session, engine, n: int = 3):
    partner = make_partner(session, currency="EUR")
    licences = [make_licence(session, partner=partner, articles=[make_article(session)], amount=1_000 * (i + 1))
                for i in range(n)]
    session.commit()
    outbox.drain(engine)
    return partner, licences


def test_staff_lists_filters_and_pages(client, session, engine) -> None:
    partner, _ = _ledger_invoices(session, engine)
    other, _ = _ledger_invoices(session, engine, n=1)
    headers = staff_headers(client, session, roles=["finance"])
    first = client.get("/v1/staff/invoices", params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert len(body["items"]) == 2 and body["next_cursor"]
    rest = client.get("/v1/staff/invoices", params={"limit": 2, "cursor": body["next_cursor"]}, headers=headers).json()
    ids = [i["id"] for i in body["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 4
    mine = client.get("/v1/staff/invoices", params={"partner_id": partner.id, "status": "open"}, headers=headers)
    assert {i["partner_id"] for i in mine.json()["items"]} == {partner.id} and len(mine.json()["items"]) == 3
    assert client.get("/v1/staff/invoices", params={"status": "paid"}, headers=headers).json()["items"] == []
    assert client.get("/v1/staff/invoices", params={"cursor": "junk"}, headers=headers).json()["type"] == \
        "/problems/bad-cursor"


def test_roles_are_enforced(client, session, engine) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    assert client.get("/v1/staff/invoices", headers=editor).status_code == 403
    assert client.get("/v1/staff/invoices").status_code == 401
    admin = staff_headers(client, session, roles=["admin"])
    assert client.get("/v1/staff/invoices", headers=admin).status_code == 200


def test_mark_paid_activates_and_is_idempotent(client, session, engine) -> None:
    _, (licence,) = _ledger_invoices(session, engine, n=1)
    invoice_id = session.exec(select(Invoice)).one().id  # a plain id: expired objects would reload (and lock)
    headers = staff_headers(client, session, roles=["finance"])
    detail = client.get(f"/v1/staff/invoices/{invoice_id}", headers=headers).json()
    assert detail["lines"][0]["amount"] == 1_000 and detail["lines"][0]["licence_id"] == licence.id
    paid = client.post(f"/v1/staff/invoices/{invoice_id}/mark-paid", json={"reference": "BACS 42"}, headers=headers)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["amount_paid"]) == ("paid", 1_000)
    session.expire_all()
    assert session.get(Licence, licence.id).state == LicenceState.active
    session.commit()
    again = client.post(f"/v1/staff/invoices/{invoice_id}/mark-paid", json={"reference": "BACS 42"}, headers=headers)
    assert again.status_code == 200
    missing = client.post("/v1/staff/invoices/inv_nope/mark-paid", json={"reference": "x"}, headers=headers)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/invoice-not-found"
    empty = client.post(f"/v1/staff/invoices/{invoice_id}/mark-paid", json={"reference": ""}, headers=headers)
    assert empty.status_code == 422


def test_stripe_invoice_cannot_be_marked_paid_by_hand(client, session, engine, stripe_settings) -> None:
    make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=500)
    session.commit()
    outbox.drain(engine)
    invoice = session.exec(select(Invoice)).one()
    session.commit()
    headers = staff_headers(client, session, roles=["finance"])
    refused = client.post(f"/v1/staff/invoices/{invoice.id}/mark-paid", json={"reference": "x"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/invoice-not-payable"


def test_partner_sees_only_its_own(client, session, engine) -> None:
    partner, _ = _ledger_invoices(session, engine, n=2)
    other, _ = _ledger_invoices(session, engine, n=1)
    key = make_api_key(session, partner)
    theirs = session.exec(select(Invoice).where(Invoice.partner_id == other.id)).one()
    session.commit()
    listed = client.get("/v1/invoices", headers={"X-API-Key": key})
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 2 and {i["partner_id"] for i in items} == {partner.id}
    one = client.get(f"/v1/invoices/{items[0]['id']}", headers={"X-API-Key": key})
    assert one.status_code == 200 and one.json()["lines"][0]["currency"] == "EUR"
    hidden = client.get(f"/v1/invoices/{theirs.id}", headers={"X-API-Key": key})
    assert hidden.status_code == 404 and hidden.json()["type"] == "/problems/invoice-not-found"
    assert client.get("/v1/invoices").status_code == 401


def test_staff_starts_a_billing_run(client, session, engine) -> None:
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], amount=750, billing_mode="usage")
    add_usage(session, licence, article, at=IN_PERIOD)
    session.commit()
    headers = staff_headers(client, session, roles=["finance"])
    response = client.post("/v1/staff/invoicing/runs", json={"period": PERIOD}, headers=headers)
    assert response.status_code == 202 and response.json() == {"period": PERIOD, "status": "started"}
    invoice = session.exec(select(Invoice).where(Invoice.period == PERIOD)).one()  # the run finished after the answer
    assert invoice.amount_due == 750 and invoice.partner_id == partner.id
    session.commit()
    bad = client.post("/v1/staff/invoicing/runs", json={"period": "2026-13"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"
    for out_of_range in ("0000-01", "9999-12"):  # a month without a datetime, or without a next month: a 500 once
        bad = client.post("/v1/staff/invoicing/runs", json={"period": out_of_range}, headers=headers)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json") and out_of_range in bad.json()["detail"]
