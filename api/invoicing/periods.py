"""Period invoicing: each partner's metered usage and period fees become one invoice per month.

Exactly once, however often or concurrently it runs: the invoice row is unique per (partner,
period), each line unique per (invoice, line key), and the provider calls carry idempotency keys
built from the partner and period, so a run that died halfway is simply run again. Beyond the
provider's 24 hours of idempotency the backend finds the draft it made by our metadata, and until
an invoice is issued its lines follow the usage counted at each attempt (line keys carry their
amount), so late usage is billed rather than refused. An invoice is sent only once the
provider's total agrees with ours; otherwise it stays an unsent draft that reconcile shows.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings
from api.core.db import session_scope
from api.delivery.models import UsageEvent
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.service import BadPeriod, issue
from api.invoicing.store import as_specs, claim_invoice, ensure_customer, set_lines
from api.licensing.models import BillingMode, Licence
from api.licensing.states import LicenceState
from api.partners import service as partners
from billing import BillingBackend, BillingError, LineSpec

log = logging.getLogger("syndicate.billing.periods")
ACTOR = Actor.system("billing-run")


def parse_period(period: str) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01, 2026-12-01) in UTC."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period or ""):
        raise BadPeriod(f"Period {period!r} is not a month; use YYYY-MM, e.g. 2026-11.")
    year, month = int(period[:4]), int(period[5:])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous_period(now: datetime) -> str:
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


@dataclass
class RunSummary:
    period: str
    partners: int = 0
    invoices_created: int = 0
    already_invoiced: int = 0
    lines: int = 0
    totals: dict[str, int] = field(default_factory=dict)  # currency -> minor units, invoices of this run
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # partner id -> error


@dataclass(frozen=True)
class Billable:
    partner_id: str
    licence_id: str
    line: LineSpec


def collect(session: Session, period: str) -> dict[str, list[Billable]]:
    """Everything billable in the period, grouped by partner. Counting happens in SQL."""
    start, end = parse_period(period)
    usage = session.exec(
        select(UsageEvent.partner_id, UsageEvent.licence_id, Licence.amount, Licence.currency,
               func.count(UsageEvent.id))
        .join(Licence, Licence.id == UsageEvent.licence_id)
        .where(UsageEvent.billable, UsageEvent.at >= start, UsageEvent.at < end,
               Licence.billing_mode == BillingMode.usage)
        .group_by(UsageEvent.partner_id, UsageEvent.licence_id, Licence.amount, Licence.currency)
    ).all()
    out: dict[str, list[Billable]] = defaultdict(list)
    for partner_id, licence_id, unit_amount, currency, count in usage:
        out[partner_id].append(Billable(partner_id, licence_id, LineSpec(
            key=f"usage:{licence_id}", description=f"{period}: {count} article republication(s) under licence {licence_id}",
            unit_amount=unit_amount, quantity=int(count), currency=currency)))
    # Monthly fees of feed licences the ledger bills itself (Stripe subscriptions bill on their own).
    fees = session.exec(
        select(BillingSubscription.partner_id, Licence.id, Licence.amount, Licence.currency)
        .join(Licence, Licence.id == BillingSubscription.licence_id)
        .where(BillingSubscription.provider == "ledger", BillingSubscription.status == "active",
               BillingSubscription.first_period < period, Licence.starts_at < end, Licence.ends_at > start,
               Licence.state.in_([LicenceState.active, LicenceState.suspended]))  # type: ignore[attr-defined]
    ).all()
    for partner_id, licence_id, amount, currency in fees:
        out[partner_id].append(Billable(partner_id, licence_id, LineSpec(
            key=f"fee:{licence_id}", description=f"{period}: monthly feed fee, licence {licence_id}",
            unit_amount=amount, quantity=1, currency=currency)))
    return out


def run_period(
    engine: Engine, period: str, *, backend: BillingBackend, settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Invoice every partner with something billable in `period`. Safe to repeat and to run concurrently."""
    parse_period(period)
    with session_scope(engine) as session:
        billables = collect(session, period)
    summary = RunSummary(period=period, partners=len(billables))
    for partner_id in sorted(billables):
        try:
            _invoice_partner(engine, partner_id, period, billables[partner_id], backend=backend,
                             settings=settings, summary=summary)
        except BillingError as exc:
            summary.failed[partner_id] = f"{type(exc).__name__}: {exc}"
            log.warning("billing run %s: partner %s failed: %s", period, partner_id, exc)
        if progress:
            progress(partner_id)
    return summary


def _invoice_partner(engine: Engine, partner_id: str, period: str, billables: list[Billable], *,
                     backend: BillingBackend, settings: Settings, summary: RunSummary) -> None:
    # One transaction per partner, holding the invoice row's lock (PostgreSQL) through the provider
    # calls: a concurrent run waits here, then finds the invoice issued and leaves it alone.
    with session_scope(engine) as session:
        partner = partners.get_partner(session, partner_id)
        mine = [b for b in billables if b.line.currency == partner.currency]
        for other in (b for b in billables if b.line.currency != partner.currency):
            summary.skipped.append(f"{other.licence_id}: licence in {other.line.currency}, partner billed in {partner.currency}")
        if not mine:
            return
        invoice = claim_invoice(session, charge_key=f"period:{partner_id}:{period}", kind=InvoiceKind.period,
                                partner_id=partner_id, period=period, provider=backend.name,
                                currency=partner.currency, status=InvoiceStatus.draft)
        if invoice.status != InvoiceStatus.draft:
            summary.already_invoiced += 1
            return
        # Still a draft (new, or left by a run that died or was held back): its lines follow the
        # usage counted now, and prepare_invoice brings the provider's draft to the same lines.
        rows = set_lines(session, invoice, [b.line for b in mine], licence_ids={b.line.key: b.licence_id for b in mine})
        customer_id = ensure_customer(session, partner, backend)
        held = issue(invoice, backend, idempotency_key=f"invoice:{partner_id}:{period}", customer_id=customer_id,
                     lines=as_specs(rows), collection_method="send_invoice",
                     days_until_due=settings.invoice_days_until_due, description=f"Syndicate usage and fees, {period}",
                     metadata={"syndicate_partner_id": partner_id, "syndicate_period": period})  # stable values only
        session.add(invoice)
        if held:
            # Committed as an unsent draft: reconcile shows it, and the next run tries it again.
            summary.failed[partner_id] = f"TotalsDisagree: {held}"
            log.error("billing run %s: partner %s held back: %s", period, partner_id, held)
            audit.record(session, actor=ACTOR, action="invoice.held", object_type="invoice", object_id=invoice.id,
                         partner_id=partner_id, after={"period": period, "total": invoice.total, "reason": held})
            return
        audit.record(session, actor=ACTOR, action="invoice.issued", object_type="invoice", object_id=invoice.id,
                     partner_id=partner_id, after={"period": period, "total": invoice.total,
                                                   "amount_due": invoice.amount_due, "currency": partner.currency,
                                                   "lines": len(rows), "provider": backend.name})
        summary.invoices_created += 1
        summary.lines += len(rows)
        summary.totals[partner.currency] = summary.totals.get(partner.currency, 0) + invoice.total


@dataclass(frozen=True)
class Difference:
    invoice_id: str | None
    provider_invoice_id: str | None
    field: str
    ours: str | int | None
    theirs: str | int | None


def reconcile(session: Session, *, backend: BillingBackend) -> list[Difference]:
    """Every way our invoices and the provider's disagree (missing on either side, status, totals,
    currency), and the money that came back after payment (refunds, disputes) for staff to act on."""
    local = list(session.exec(select(Invoice).where(Invoice.provider == backend.name,
                                                    Invoice.provider_invoice_id.is_not(None))).all())  # type: ignore[union-attr]
    if backend.name == "ledger":
        return []  # the ledger's invoices live only in our database: nothing to compare with
    since = min((inv.created_at for inv in local), default=None)
    remote = {inv.id: inv for inv in backend.list_invoices(created_since=since)}
    diffs: list[Difference] = []
    for inv in local:
        theirs = remote.pop(inv.provider_invoice_id or "", None)
        if theirs is None:
            diffs.append(Difference(inv.id, inv.provider_invoice_id, "missing at provider", str(inv.status), None))
            continue
        for name, ours_value, their_value in (("status", str(inv.status), theirs.status),
                                              ("total", inv.total, theirs.total),
                                              ("amount_due", inv.amount_due, theirs.amount_due),
                                              ("amount_paid", inv.amount_paid, theirs.amount_paid),
                                              ("currency", inv.currency, theirs.currency)):
            if ours_value != their_value:
                diffs.append(Difference(inv.id, theirs.id, name, ours_value, their_value))
        # Paid, then money went back: Stripe's invoice still reads paid, so only our record shows it.
        if inv.amount_refunded:
            diffs.append(Difference(inv.id, theirs.id, "refunded", inv.amount_refunded, None))
        if inv.dispute_status:
            diffs.append(Difference(inv.id, theirs.id, "disputed", inv.amount_disputed, inv.dispute_status))
    for theirs in remote.values():
        if theirs.metadata.get("syndicate_partner_id"):
            diffs.append(Difference(None, theirs.id, "missing locally", None, theirs.status))
    return diffs
