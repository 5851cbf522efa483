"""Invoice on demand and cancelling an unpaid licence from the console, by role, through the real app."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.core.db import utcnow
from api.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.partners import service as partners
from tests.builders import make_article, make_licence, make_partner
from tests.console.helpers import log_in
from tests.invoicing.conftest import add_usage


def _usage_licence(session, *, name: str = "Outlet Gazette", deliveries: int = 3) -> Licence:
    licence = make_licence(session, partner=make_partner(session, name=name, currency="GBP"),
                           articles=[make_article(session)], amount=1_250, billing_mode="usage")
    for _ in range(deliveries):
        add_usage(session, licence, make_article(session), at=utcnow())
    session.commit()
    return licence


def _on_demand(session) -> list[Invoice]:
    session.commit()
    session.expire_all()
    return list(session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.on_demand)).all())


@pytest.mark.parametrize("role, status", [("finance", 200), ("admin", 200), ("licensing", 403), ("editor", 403)])
def test_the_next_run_page_shows_each_partner_by_name_with_money(console, session, role, status):
    licence = _usage_licence(session)
    log_in(console, session, roles=[role])
    page = console.get("/console/invoicing/next-run")
    assert page.status_code == status
    if status == 200:
        assert "Outlet Gazette" in page.text and "37.50 GBP" in page.text and "12.50 GBP" in page.text
        assert f'action="/console/partners/{licence.partner_id}/invoice-now"' in page.text
        assert 'href="/console/invoicing/next-run"' in page.text  # in the navigation


@pytest.mark.parametrize("role, status", [("finance", 303), ("licensing", 403), ("editor", 403)])
def test_invoice_a_partner_now_by_role(console, session, role, status):
    licence = _usage_licence(session)
    csrf = log_in(console, session, roles=[role])
    answer = console.post(f"/console/partners/{licence.partner_id}/invoice-now", data={"csrf_token": csrf},
                          follow_redirects=False)
    assert answer.status_code == status
    invoices = _on_demand(session)
    if status != 303:
        assert invoices == []
        return
    assert [(i.partner_id, i.total, i.status) for i in invoices] == [(licence.partner_id, 3_750, InvoiceStatus.draft)]
    page = console.get(answer.headers["location"])
    assert "Invoice drafted" in page.text and "Nothing to bill" in page.text  # the run has nothing left
    again = console.post(f"/console/partners/{licence.partner_id}/invoice-now", data={"csrf_token": csrf})
    assert again.status_code == 409 and "No unbilled usage" in again.text
    assert len(_on_demand(session)) == 1
    stale = console.post(f"/console/partners/{licence.partner_id}/invoice-now", data={"csrf_token": "nope"})
    assert stale.status_code == 403


def test_invoice_one_licence_now_from_its_page(console, session):
    licence = _usage_licence(session)
    other = make_licence(session, partner=partners.get_partner(session, licence.partner_id), articles=[make_article(session)], amount=500, billing_mode="usage")
    add_usage(session, other, make_article(session), at=utcnow())
    session.commit()
    csrf = log_in(console, session, roles=["admin"])
    page = console.get(f"/console/licences/{licence.id}")
    assert f'action="/console/licences/{licence.id}/invoice-now"' in page.text
    done = console.post(f"/console/licences/{licence.id}/invoice-now", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Invoice drafted" in done.text and "On demand" in done.text
    assert [(i.licence_id, i.total) for i in _on_demand(session)] == [(licence.id, 3_750)]
    again = console.post(f"/console/licences/{licence.id}/invoice-now", data={"csrf_token": csrf})
    assert again.status_code == 409 and "No unbilled usage" in again.text and "Licence for" in again.text
    # the other licence is still the period run's
    preview = console.get("/console/invoicing/next-run").text
    assert other.id in preview and "5.00 GBP" in preview


def test_finance_without_the_licence_page_invoices_a_licence_from_the_preview(console, session):
    licence = _usage_licence(session)
    csrf = log_in(console, session, roles=["finance"])
    assert console.get(f"/console/licences/{licence.id}").status_code == 403
    done = console.post(f"/console/licences/{licence.id}/invoice-now", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Invoice drafted" in done.text
    missing = console.post("/console/licences/lic_missing/invoice-now", data={"csrf_token": csrf})
    assert missing.status_code == 404 and "Licence for" not in missing.text


@pytest.mark.parametrize("role, status", [("licensing", 303), ("admin", 303), ("finance", 403), ("editor", 403)])
def test_cancel_a_licence_awaiting_payment_by_role(console, session, role, status):
    licence = make_licence(session, partner=make_partner(session, name="Outlet Gazette"),
                           articles=[make_article(session)], amount=24_000)
    session.commit()
    assert licence.state == LicenceState.awaiting_payment
    csrf = log_in(console, session, roles=[role])
    answer = console.post(f"/console/licences/{licence.id}/cancel", follow_redirects=False,
                          data={"csrf_token": csrf, "reason": "The partner asked us to call it off"})
    assert answer.status_code == status
    session.commit()
    session.expire_all()
    state = session.get(Licence, licence.id).state
    if status != 303:
        assert state == LicenceState.awaiting_payment
        return
    assert state == LicenceState.cancelled
    page = console.get(answer.headers["location"])
    assert "Licence cancelled" in page.text and '<span class="badge cancelled" id="licence-state">Cancelled</span>' in page.text
    assert "Cancel the licence" not in page.text  # nothing left to cancel


def test_cancelling_needs_a_reason_and_an_unpaid_licence(console, session):
    unpaid = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=24_000)
    free = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=0,
                        billing_mode="free")
    session.commit()
    csrf = log_in(console, session, roles=["licensing"])
    assert "Cancel the licence" in console.get(f"/console/licences/{unpaid.id}").text
    assert "Cancel the licence" not in console.get(f"/console/licences/{free.id}").text
    no_reason = console.post(f"/console/licences/{unpaid.id}/cancel", data={"csrf_token": csrf, "reason": " "})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    active = console.post(f"/console/licences/{free.id}/cancel", data={"csrf_token": csrf, "reason": "Because"})
    assert active.status_code == 409 and "Licence for" in active.text
    session.commit()
    session.expire_all()
    assert session.get(Licence, unpaid.id).state == LicenceState.awaiting_payment
    assert session.get(Licence, free.id).state == LicenceState.active
