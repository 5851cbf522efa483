"""Invoice now and closed periods: usage never falls between two invoices or into two."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from api.core.config import worker_settings
from api.audit.service import Actor
from api.cli import app as cli
from api.core.db import utcnow
from api.invoicing import cutoffs, periods, provider
from api.invoicing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from api.outbox import service as outbox
from tests.builders import make_article, make_licence, make_partner, staff_headers
from tests.invoicing.conftest import FINANCE, add_usage
from api.invoicing.errors import NothingToInvoice, PeriodNotEnded

PERIOD = "2026-10"
CUTOFF = datetime(2026, 10, 12, tzinfo=UTC)


def _usage_licence(session, partner, *, amount: int, days: list[int]):
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=amount,
                           billing_mode="usage")
    for day in days:  # each a first fetch of a new article: billable
        add_usage(session, licence, make_article(session), at=datetime(2026, 10, day, 9, tzinfo=UTC))
    return licence


def _run(engine, period: str = PERIOD, **kwargs):
    settings = worker_settings()
    return periods.run_period(engine, period, backend=provider.backend(settings), settings=settings, **kwargs)


def _lines(session, invoice_id: str) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                             .order_by(InvoiceLine.licence_id)).all())


def test_a_period_that_has_not_ended_is_refused(client, session, engine) -> None:
    running = periods.current_period(utcnow())
    with pytest.raises(PeriodNotEnded):
        _run(engine, running)
    staff = staff_headers(client, session, roles=["finance"])
    answer = client.post("/v1/staff/invoicing/runs", headers=staff, json={"period": running})
    assert answer.status_code == 409 and answer.json()["type"] == "/problems/billing-period-not-ended"
    assert running in answer.json()["detail"]
    session.commit()
    result = CliRunner().invoke(cli, ["invoicing", "run", "--period", running], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "can be invoiced only once it has ended" in result.output
    assert session.exec(select(Invoice)).all() == []


def test_invoice_now_then_the_period_run_bills_only_the_rest(session, engine) -> None:
    partner = make_partner(session, currency="GBP")
    first = _usage_licence(session, partner, amount=500, days=[5, 10, 20])
    second = _usage_licence(session, partner, amount=700, days=[3, 25])
    # a delivery exactly at the cut-off belongs to the next invoice: [from, cutoff)
    add_usage(session, first, make_article(session), at=CUTOFF)
    session.commit()

    early = cutoffs.invoice_now(session, partner_id=partner.id, cutoff=CUTOFF, provider="ledger", actor=FINANCE)
    session.commit()
    assert (early.kind, early.status, early.usage_to) == (InvoiceKind.on_demand, InvoiceStatus.draft, CUTOFF)
    assert [(li.licence_id, li.quantity, li.usage_from, li.usage_to) for li in _lines(session, early.id)] == sorted([
        (first.id, 2, datetime(2026, 10, 5, 9, tzinfo=UTC), CUTOFF),
        (second.id, 1, datetime(2026, 10, 3, 9, tzinfo=UTC), CUTOFF)])
    session.commit()  # end this read: the next one sees what the worker commits
    outbox.drain(engine)  # the worker sends it
    session.expire_all()
    assert session.get(Invoice, early.id).status == InvoiceStatus.open
    session.commit()

    summary = _run(engine)
    session.expire_all()
    assert (summary.invoices_created, summary.failed) == (1, {})
    period_invoice = session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.period)).one()
    rest = [(li.licence_id, li.quantity, li.usage_from, li.usage_to) for li in _lines(session, period_invoice.id)]
    end = datetime(2026, 11, 1, tzinfo=UTC)
    assert rest == sorted([(first.id, 2, CUTOFF, end), (second.id, 1, CUTOFF, end)])
    assert period_invoice.total == 2 * 500 + 700 and (period_invoice.usage_from, period_invoice.usage_to) == (CUTOFF, end)
    # every billable delivery exactly once, across both invoices
    billed = sum(li.quantity for li in session.exec(select(InvoiceLine)).all())
    assert billed == 6
    assert _run(engine).invoices_created == 0
    with pytest.raises(NothingToInvoice):
        cutoffs.invoice_now(session, partner_id=partner.id, cutoff=CUTOFF, provider="ledger", actor=FINANCE)
    session.rollback()


def test_invoice_now_for_one_licence_leaves_the_others_to_the_run(session, engine) -> None:
    partner = make_partner(session, currency="GBP")
    first = _usage_licence(session, partner, amount=500, days=[5, 20])
    second = _usage_licence(session, partner, amount=700, days=[3, 25])
    session.commit()
    one = cutoffs.invoice_now(session, licence_id=first.id, cutoff=CUTOFF, provider="ledger", actor=FINANCE)
    session.commit()
    assert [(li.licence_id, li.quantity) for li in _lines(session, one.id)] == [(first.id, 1)]
    session.commit()
    _run(engine)
    period_invoice = session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.period)).one()
    lines = {li.licence_id: (li.quantity, li.usage_from) for li in _lines(session, period_invoice.id)}
    assert lines == {first.id: (1, CUTOFF), second.id: (2, datetime(2026, 10, 1, tzinfo=UTC))}


def test_staff_invoice_now_api_is_idempotent_and_previews_the_next_run(client, session, engine) -> None:
    partner = make_partner(session, currency="GBP")
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=400,
                           billing_mode="usage")
    for _ in range(3):
        add_usage(session, licence, make_article(session), at=utcnow())
    session.commit()
    staff = staff_headers(client, session, roles=["finance"])
    preview = client.get("/v1/staff/invoicing/preview", headers=staff).json()
    assert preview["period"] == periods.current_period(utcnow())
    assert [(p["partner_id"], p["total"]) for p in preview["partners"]] == [(partner.id, 1200)]

    url = f"/v1/staff/partners/{partner.id}/invoice-now"
    first = client.post(url, headers={**staff, "Idempotency-Key": "k-1"}, json={})
    again = client.post(url, headers={**staff, "Idempotency-Key": "k-1"}, json={})
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    body = first.json()
    assert (body["kind"], body["total"], body["lines"][0]["quantity"]) == ("on_demand", 1200, 3)
    assert client.get("/v1/staff/invoicing/preview", headers=staff).json()["partners"] == []  # nothing left
    nothing = client.post(url, headers=staff, json={})
    assert nothing.status_code == 409 and nothing.json()["type"] == "/problems/nothing-to-invoice"
    future = client.post(url, headers=staff, json={"cutoff": "2999-01-01T00:00:00Z"})
    assert future.status_code == 422 and future.json()["type"] == "/problems/bad-cutoff"
    missing = client.post("/v1/staff/licences/lic_missing/invoice-now", headers=staff, json={})
    assert missing.status_code == 404
    licensing_only = staff_headers(client, session, roles=["licensing"])
    assert client.post(url, headers=licensing_only, json={}).status_code == 403
    session.commit()
    outbox.drain(engine)
    session.expire_all()
    assert len(session.exec(select(Invoice)).all()) == 1
    assert session.get(Invoice, body["id"]).status == InvoiceStatus.open
    session.commit()


def test_cli_invoice_now(session, engine) -> None:
    partner = make_partner(session, currency="GBP")
    _usage_licence(session, partner, amount=250, days=[5, 6])
    session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["invoicing", "invoice-now", "--partner", partner.id, "--cutoff", "2026-10-12T00:00:00"])
    assert result.exit_code == 0, result.output
    assert "issued" in result.output and "5.00" in result.output
    invoice = session.exec(select(Invoice)).one()
    assert (invoice.status, invoice.usage_to, invoice.total) == (InvoiceStatus.open, CUTOFF, 500)
    session.commit()
    again = runner.invoke(cli, ["invoicing", "invoice-now", "--partner", partner.id, "--cutoff", "2026-10-12T00:00:00"])
    assert again.exit_code == 2 and "No unbilled usage" in again.output
    assert runner.invoke(cli, ["invoicing", "invoice-now"]).exit_code == 2


@pytest.mark.postgres_only
def test_invoice_now_racing_the_period_run_bills_each_delivery_once(session, engine) -> None:
    partner = make_partner(session, currency="GBP")
    _usage_licence(session, partner, amount=500, days=[5, 10, 20])
    session.commit()
    barrier, errors = threading.Barrier(2), []

    def invoice_now() -> None:
        from api.core.db import session_scope

        barrier.wait()
        try:
            with session_scope(engine) as own:
                cutoffs.invoice_now(own, partner_id=partner.id, cutoff=datetime(2026, 11, 15, tzinfo=UTC),
                                    provider="ledger", actor=Actor.system("tests"))
        except NothingToInvoice:
            pass  # the run billed everything first: nothing was left for it

    def run() -> None:
        barrier.wait()
        try:
            _run(engine)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=invoice_now), threading.Thread(target=run)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(li.quantity for li in session.exec(select(InvoiceLine)).all()) == 3
