"""Period invoicing: one invoice per partner and month, exactly once, and reconciliation."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from api.core.config import worker_settings
from api.cli import app as cli
from api.invoicing import periods, provider
from api.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from tests.builders import make_article, make_licence, make_partner
from tests.invoicing.conftest import add_usage
from api.invoicing.errors import BadPeriod

PERIOD = "2026-10"
IN_PERIOD = datetime(2026, 10, 15, 12, tzinfo=UTC)


def _usage_world(session, *, partners: int = 2):
    """Each partner: a usage licence at 500/article with 3 billable republications in the period,
    one non-billable re-fetch, and one republication the month after."""
    made = []
    for n in range(partners):
        partner = make_partner(session, currency="GBP")
        articles = [make_article(session) for _ in range(3)]
        licence = make_licence(session, partner=partner, articles=articles, amount=500 + n, billing_mode="usage")
        for article in articles:
            add_usage(session, licence, article, at=IN_PERIOD)
        add_usage(session, licence, articles[0], at=IN_PERIOD, billable=False)
        later = make_article(session)
        add_usage(session, licence, later, at=datetime(2026, 11, 2, tzinfo=UTC))
        made.append((partner, licence))
    session.commit()
    return made


def _run(engine, settings=None):
    settings = settings or worker_settings()
    return periods.run_period(engine, PERIOD, backend=provider.backend(settings), settings=settings)


def test_usage_becomes_one_invoice_per_partner(session, engine) -> None:
    made = _usage_world(session)
    summary = _run(engine)
    assert (summary.partners, summary.invoices_created, summary.lines) == (2, 2, 2)
    assert summary.totals == {"GBP": 3 * 500 + 3 * 501}
    for partner, licence in made:
        invoice = session.exec(select(Invoice).where(Invoice.partner_id == partner.id)).one()
        assert (invoice.period, invoice.status, invoice.currency) == (PERIOD, InvoiceStatus.open, "GBP")
        line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).one()
        assert (line.licence_id, line.quantity, line.unit_amount) == (licence.id, 3, licence.amount)
        assert invoice.amount_due == line.amount == 3 * licence.amount


def test_running_twice_changes_nothing(session, engine) -> None:
    """Sequential double run: on SQLite and PostgreSQL."""
    _usage_world(session)
    first = _run(engine)
    second = _run(engine)
    assert (first.invoices_created, second.invoices_created, second.already_invoiced) == (2, 0, 2)
    assert len(session.exec(select(Invoice)).all()) == 2
    assert len(session.exec(select(InvoiceLine)).all()) == 2


def test_stripe_run_that_died_halfway_resumes(session, engine, stripe_settings, stripe_double) -> None:
    made = _usage_world(session, partners=3)
    # the second partner's invoice is created and filled at Stripe, then finalizing fails: our
    # transaction for that partner rolls back, as if the process had died there
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=400, error_type="invalid_request_error",
                       skip=1)
    first = _run(engine, stripe_settings)
    assert first.invoices_created == 2 and len(first.failed) == 1
    second = _run(engine, stripe_settings)
    assert (second.invoices_created, second.already_invoiced, second.failed) == (1, 2, {})
    invoices = session.exec(select(Invoice)).all()
    assert len(invoices) == 3 and {i.status for i in invoices} == {InvoiceStatus.open}
    assert len(stripe_double.of_kind("invoice")) == 3  # the resumed partner reused its first draft
    assert len(stripe_double.of_kind("invoiceitem")) == 3
    keys = {c.idempotency_key for c in stripe_double.calls("POST", "/v1/invoices")}
    assert keys == {f"invoice:{p.id}:{PERIOD}:create" for p, _ in made}
    for invoice in invoices:  # our totals and Stripe's agree to the unit
        assert stripe_double.state.objects[invoice.provider_invoice_id]["amount_due"] == invoice.amount_due
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_a_period_invoice_is_one_provider_call_a_partner(session, engine, stripe_settings, stripe_double) -> None:
    """The customers were made when the licences were charged at approval (the outbox's charge
    messages); the period run then costs one billing-interface call per partner: issue_invoice."""
    from api.invoicing.models import BillingCustomer
    from api.outbox import service as outbox
    from benchmarks.scale import CountingBackend

    made = _usage_world(session, partners=3)
    outbox.drain(engine)
    assert len(session.exec(select(BillingCustomer)).all()) == 3
    session.rollback()  # end the test's read, which SQLite's snapshot would otherwise keep
    before = len(stripe_double.state.requests)
    counting = CountingBackend(provider.backend(stripe_settings))
    summary = periods.run_period(engine, PERIOD, backend=counting, settings=stripe_settings)  # type: ignore[arg-type]
    assert summary.invoices_created == 3 and summary.failed == {}
    assert dict(counting.calls) == {"issue_invoice": 3}
    during = stripe_double.state.requests[before:]
    assert not [r for r in during if "customers" in r.path]
    assert len([r for r in during if r.method == "POST"]) == 3 * 3  # create, add_lines, finalize a partner
    assert {i.partner_id for i in session.exec(select(Invoice)).all()} == {p.id for p, _ in made}
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_a_failed_attempt_is_counted_and_its_retry_reuses_the_draft_under_fresh_keys(
        session, engine, stripe_settings, stripe_double) -> None:
    """Adding the lines fails (Stripe saves a 500 under that key and would replay it): the attempt
    is counted on our invoice, the next run sends under the next attempt's keys, finds the draft
    the failed attempt made, and issues exactly one invoice."""
    ((partner, _licence),) = _usage_world(session, partners=1)
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/add_lines", status=500, times=3)  # the SDK retries twice
    first = _run(engine, stripe_settings)
    assert list(first.failed) == [partner.id]
    invoice = session.exec(select(Invoice)).one()
    assert (invoice.status, invoice.issue_attempts) == (InvoiceStatus.draft, 1)
    session.rollback()
    resumed = _run(engine, stripe_settings)
    assert resumed.invoices_created == 1 and resumed.failed == {}
    session.refresh(invoice)
    assert (invoice.status, invoice.issue_attempts) == (InvoiceStatus.open, 1)
    (remote,) = stripe_double.of_kind("invoice")
    assert remote["id"] == invoice.provider_invoice_id and remote["status"] == "open"
    assert len(stripe_double.calls("POST", "/v1/invoices")) == 1  # the draft was found, not made again
    key = f"invoice:{partner.id}:{PERIOD}"
    assert stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")[0].idempotency_key == f"{key}:attempt-1:finalize"
    assert remote["total"] == invoice.total == invoice.amount_due


@pytest.mark.postgres_only
def test_two_concurrent_runs_make_each_invoice_once(session, engine, stripe_settings, stripe_double) -> None:
    made = _usage_world(session, partners=4)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(_run(engine, stripe_settings))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r.failed for r in results] == [{}, {}]  # a collision is a failure, not something a later run tidies
    assert sum(r.invoices_created for r in results) == 4
    assert sum(r.already_invoiced for r in results) == 4
    creates = [c.idempotency_key for c in stripe_double.calls("POST", "/v1/invoices")]
    assert sorted(creates) == sorted(f"invoice:{p.id}:{PERIOD}:create" for p, _ in made)  # each reached Stripe once
    assert len(stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize")) == 4
    assert len(session.exec(select(Invoice)).all()) == 4
    assert len(session.exec(select(InvoiceLine)).all()) == 4
    assert len(stripe_double.of_kind("invoice")) == 4
    assert len(stripe_double.of_kind("invoiceitem")) == 4


def test_resume_after_stripe_forgot_our_keys_makes_no_second_invoice(
        session, engine, stripe_settings, stripe_double) -> None:
    made = _usage_world(session, partners=2)
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=500, skip=1, times=3)  # the SDK retries twice
    assert len(_run(engine, stripe_settings).failed) == 1
    stripe_double.forget_idempotency_keys()  # the resume comes more than 24 hours later
    resumed = _run(engine, stripe_settings)
    assert (resumed.invoices_created, resumed.already_invoiced, resumed.failed) == (1, 1, {})
    assert len(stripe_double.of_kind("invoice")) == 2 and len(stripe_double.of_kind("invoiceitem")) == 2
    assert sorted(c.idempotency_key for c in stripe_double.calls("POST", "/v1/invoices")) == sorted(
        f"invoice:{p.id}:{PERIOD}:create" for p, _ in made)  # the draft was found, not made again
    assert {i.status for i in session.exec(select(Invoice)).all()} == {InvoiceStatus.open}
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_usage_recorded_between_failure_and_resume_is_billed_once(
        session, engine, stripe_settings, stripe_double) -> None:
    ((partner, licence),) = _usage_world(session, partners=1)
    stripe_double.fail("POST", r"/v1/invoices/in_\w+/finalize", status=500, times=3)  # the SDK retries twice
    assert len(_run(engine, stripe_settings).failed) == 1
    add_usage(session, licence, make_article(session), at=IN_PERIOD)  # counted late, before the invoice went out
    session.commit()
    resumed = _run(engine, stripe_settings)
    assert (resumed.invoices_created, resumed.failed, resumed.totals) == (1, {}, {"GBP": 4 * 500})
    invoice = session.exec(select(Invoice)).one()
    line = session.exec(select(InvoiceLine)).one()
    assert (line.quantity, line.amount, invoice.total, invoice.amount_due) == (4, 2_000, 2_000, 2_000)
    (remote,) = stripe_double.of_kind("invoice")
    items = [o for o in stripe_double.of_kind("invoiceitem") if o["invoice"] == remote["id"]]
    assert [o["amount"] for o in items] == [2_000] and remote["total"] == 2_000 and remote["status"] == "open"
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_customer_credit_lowers_amount_due_not_the_total(session, engine, stripe_settings, stripe_double) -> None:
    ((partner, licence),) = _usage_world(session, partners=1)
    customer_id = provider.backend(stripe_settings).ensure_customer(
        partner_id=partner.id, name=partner.name, email=partner.billing_email, currency=partner.currency)
    session.commit()
    stripe_double.update(customer_id, balance=-400)  # a credit the partner holds at Stripe
    summary = _run(engine, stripe_settings)
    assert (summary.invoices_created, summary.failed, summary.totals) == (1, {}, {"GBP": 1_500})
    invoice = session.exec(select(Invoice)).one()
    assert (invoice.status, invoice.total, invoice.amount_due) == (InvoiceStatus.open, 1_500, 1_100)
    assert periods.reconcile(session, backend=provider.backend(stripe_settings)) == []


def test_provider_total_that_disagrees_leaves_an_unsent_draft(session, engine, stripe_settings, stripe_double) -> None:
    ((partner, licence),) = _usage_world(session, partners=1)
    original = stripe_double.route

    def with_surprise_tax(method, path, params):
        status, body = original(method, path, params)
        if method == "POST" and re.fullmatch(r"/v1/invoices/in_\w+/add_lines", path) and status == 200:
            body["total"] += 75
        return status, body

    stripe_double.route = with_surprise_tax
    for _ in range(2):  # held back, and held back again by the next run
        summary = _run(engine, stripe_settings)
        assert summary.invoices_created == 0 and "TotalsDisagree" in summary.failed[partner.id]
    assert stripe_double.calls("POST", r"/v1/invoices/in_\w+/finalize") == []  # never sent
    (remote,) = stripe_double.of_kind("invoice")
    assert remote["status"] == "draft" and remote["auto_advance"] is False
    invoice = session.exec(select(Invoice)).one()
    assert (invoice.status, invoice.provider_invoice_id, invoice.total) == (InvoiceStatus.draft, remote["id"], 1_500)
    diffs = {(d.field, d.ours, d.theirs) for d in periods.reconcile(session, backend=provider.backend(stripe_settings))}
    assert ("total", 1_500, 1_575) in diffs


def test_reconcile_lists_every_difference(session, engine, stripe_settings, stripe_double) -> None:
    _usage_world(session)
    _run(engine, stripe_settings)
    a, b = session.exec(select(Invoice).order_by(Invoice.id)).all()
    stripe_double.update(a.provider_invoice_id, status="paid", amount_paid=a.amount_due)
    del stripe_double.state.objects[b.provider_invoice_id]
    stray = stripe_double._new("invoice", "in", status="open", metadata={"syndicate_partner_id": "ptn_x"})
    diffs = periods.reconcile(session, backend=provider.backend(stripe_settings))
    found = {(d.provider_invoice_id, d.field, d.ours, d.theirs) for d in diffs}
    assert (a.provider_invoice_id, "status", "open", "paid") in found
    assert (a.provider_invoice_id, "amount_paid", 0, a.amount_due) in found
    assert (b.provider_invoice_id, "missing at provider", "open", None) in found
    assert (stray["id"], "missing locally", None, "open") in found
    assert len(diffs) == 4


def test_cli_run_shows_progress_on_a_terminal_and_reports_totals(session, engine) -> None:
    _usage_world(session)
    yen = make_partner(session, currency="GBP")
    article = make_article(session)
    licence = make_licence(session, partner=yen, articles=[article], amount=1_500, billing_mode="usage")
    # the default rate card prices no yen: move this partner and its licence to JPY on the rows
    yen.currency = licence.currency = "JPY"
    session.add_all([yen, licence])
    add_usage(session, licence, article, at=IN_PERIOD)
    session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["invoicing", "run", "--period", PERIOD], env={"TTY_COMPATIBLE": "1", "COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert f"Invoicing {PERIOD}" in result.output and "100%" in result.output  # the progress bar rendered
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)
    assert "invoices created" in text
    assert "total GBP: 30.03 (3003 minor units)" in text
    assert "total JPY: 1,500 (1500 minor units)" in text  # no minor unit: not "15.00"
    again = runner.invoke(cli, ["invoicing", "run", "--period", PERIOD])
    assert again.exit_code == 0 and len(session.exec(select(Invoice)).all()) == 3
    session.commit()  # release SQLite's lock before the next command opens its own connection
    reconcile = runner.invoke(cli, ["invoicing", "reconcile"])
    assert reconcile.exit_code == 0 and "No differences" in reconcile.output
    bad = runner.invoke(cli, ["invoicing", "run", "--period", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_period_parsing() -> None:
    assert periods.parse_period("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert periods.previous_period(datetime(2027, 1, 5, tzinfo=UTC)) == "2026-12"
    with pytest.raises(BadPeriod):
        periods.parse_period("26-1")


def test_ledger_feed_first_month_then_monthly_fee_on_period_invoice(session, engine) -> None:
    from api.core.db import utcnow
    from api.invoicing import service as invoicing
    from api.licensing.models import Licence
    from api.licensing.states import LicenceState
    from api.outbox import service as outbox
    from tests.invoicing.conftest import FINANCE

    partner = make_partner(session, currency="GBP")
    licence = make_licence(session, partner=partner, scope="catalogue", amount=20_000, billing_mode="subscription",
                           days=400)
    session.commit()
    outbox.drain(engine)
    first = session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()
    assert first.amount_due == 20_000 and first.provider == "ledger"
    invoicing.mark_paid(session, first.id, reference="BACS 1", paid_at=None, actor=FINANCE)
    session.commit()
    assert session.get(Licence, licence.id).state == LicenceState.active
    now = utcnow()
    next_month = f"{now.year + 1}-01" if now.month == 12 else f"{now.year}-{now.month + 1:02d}"
    this_month = f"{now:%Y-%m}"
    settings = worker_settings()
    later = periods.parse_period(next_month)[1]  # both months have ended by then
    assert periods.run_period(engine, this_month, backend=provider.backend(settings), settings=settings,
                              now=later).partners == 0
    summary = periods.run_period(engine, next_month, backend=provider.backend(settings), settings=settings, now=later)
    assert (summary.invoices_created, summary.totals) == (1, {"GBP": 20_000})
    fee = session.exec(select(InvoiceLine).join(Invoice).where(Invoice.period == next_month)).one()
    assert (fee.line_key, fee.licence_id, fee.amount) == (f"fee:{licence.id}", licence.id, 20_000)


def test_worker_job_invoices_the_month_that_ended(session, engine) -> None:
    from api.core.db import utcnow
    from api.invoicing import jobs

    last = periods.previous_period(utcnow())
    start, _ = periods.parse_period(last)
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], amount=321, billing_mode="usage")
    add_usage(session, licence, article, at=start)
    session.commit()
    jobs.invoice_last_period(engine)
    jobs.invoice_last_period(engine)
    invoice = session.exec(select(Invoice).where(Invoice.period == last)).one()
    assert invoice.amount_due == 321
