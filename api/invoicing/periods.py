"""Period invoicing: each partner's metered usage and period fees become one invoice per month.

A period is invoiced only once it has ended (UTC): a run for an open period is refused, since
what is delivered later in it could never be billed. A licence's usage is billed from where its
last invoice stopped (an invoice-now cut-off, see usage.py) to the end of the period.

Exactly once, however often or concurrently it runs: the invoice row is unique per (partner,
period), each line unique per (invoice, line key) and per (licence, usage_from), the partner is
locked while its boundary is read and extended, and the provider calls carry idempotency keys
built from the partner and period, so a run that died halfway is simply run again. Each invoice
is sent in three steps with no transaction open during the provider calls (issuing.py), so a slow
provider never holds the database. Beyond the provider's 24 hours of idempotency the backend
finds the draft it made by our metadata, and until an invoice is issued its lines follow the
usage counted at each attempt, so late usage is billed rather than refused. An invoice is sent
only once the provider's total agrees with ours; otherwise it stays an unsent draft that
reconcile shows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.db import session_scope, utcnow
from api.core.months import month_bounds, parse_month
from api.invoicing import issuing
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.store import Span, claim_invoice, lock_partner, set_lines
from api.invoicing.usage import unbilled
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.partners import service as partners
from billing import BillingBackend, BillingError, LineSpec, providers_without
from api.invoicing.errors import BadPeriod, PeriodNotEnded

log = logging.getLogger("syndicate.invoicing.periods")


def parse_period(period: str) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01, 2026-12-01) in UTC."""
    try:
        return month_bounds(parse_month(period))
    except ValueError as error:
        raise BadPeriod(f"Period {error}.") from None


def closed_period(period: str, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period's bounds, or PeriodNotEnded while it is still running (UTC)."""
    start, end = parse_period(period)
    if end > (now or utcnow()):
        raise PeriodNotEnded(
            f"Period {period} ends at {end.isoformat()}; it can be invoiced only once it has ended. "
            "To bill a partner's usage so far, use invoice-now.", period=period, ends_at=end.isoformat())
    return start, end


def current_period(now: datetime) -> str:
    return f"{now.year}-{now.month:02d}"


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
    span: Span | None = None  # usage lines: the [from, to) they bill


def collect(session: Session, period: str, *, partner_id: str | None = None) -> dict[str, list[Billable]]:
    """Everything the period's run bills, grouped by partner: usage not billed yet up to the
    period's end, and the ledger's monthly feed fees."""
    start, end = parse_period(period)
    out: dict[str, list[Billable]] = defaultdict(list)
    for span in unbilled(session, start=start, end=end, partner_id=partner_id, redo_period=period):
        out[span.partner_id].append(Billable(span.partner_id, span.licence_id, LineSpec(
            key=f"usage:{span.licence_id}",
            description=f"{period}: {span.count} article republication(s) under licence {span.licence_id}"
                        + (f" from {span.usage_from:%d %b %H:%M} UTC" if span.usage_from > start else ""),
            unit_amount=span.unit_amount, quantity=span.count, currency=span.currency),
            (span.usage_from, span.usage_to)))
    # Monthly fees of feed licences we bill ourselves (a provider that bills subscriptions raises its own).
    fees = (
        select(BillingSubscription.partner_id, Licence.id, Licence.amount, Licence.currency)
        .join(Licence, col(Licence.id) == col(BillingSubscription.licence_id))
        .where(BillingSubscription.provider.in_(providers_without("bills_subscriptions")),  # type: ignore[attr-defined]
               BillingSubscription.status == "active",
               BillingSubscription.first_period < period, Licence.starts_at < end, Licence.ends_at > start,
               col(Licence.state).in_([LicenceState.active, LicenceState.suspended]))
    )
    if partner_id is not None:
        fees = fees.where(BillingSubscription.partner_id == partner_id)
    for partner, licence_id, amount, currency in session.exec(fees).all():
        out[partner].append(Billable(partner, licence_id, LineSpec(
            key=f"fee:{licence_id}", description=f"{period}: monthly feed fee, licence {licence_id}",
            unit_amount=amount, quantity=1, currency=currency)))
    return out


def run_period(
    engine: Engine, period: str, *, backend: BillingBackend, settings: Settings,
    progress: Callable[[str], None] | None = None, now: datetime | None = None,
) -> RunSummary:
    """Invoice every partner with something billable in `period`, which must have ended. Safe to
    repeat and to run concurrently."""
    closed_period(period, now=now)
    with session_scope(engine) as session:
        partner_ids = sorted(collect(session, period))
    summary = RunSummary(period=period, partners=len(partner_ids))
    for partner_id in partner_ids:
        try:
            _invoice_partner(engine, partner_id, period, backend=backend, settings=settings, summary=summary)
        except BillingError as exc:
            summary.failed[partner_id] = f"{type(exc).__name__}: {exc}"
            log.warning("billing run %s: partner %s failed: %s", period, partner_id, exc)
        if progress:
            progress(partner_id)
    return summary


def _prepare(session: Session, partner_id: str, period: str, *, backend: BillingBackend,
             summary: RunSummary) -> str | None:
    """The partner's period invoice as a draft holding what is billable now; None if nothing is,
    or if it was issued already. Its lines are written under the partner's lock, so an invoice-now
    running at the same moment bills from where these lines stop."""
    lock_partner(session, partner_id)
    partner = partners.get_partner(session, partner_id)
    billables = collect(session, period, partner_id=partner_id).get(partner_id, [])
    mine = [b for b in billables if b.line.currency == partner.currency]
    for other in (b for b in billables if b.line.currency != partner.currency):
        summary.skipped.append(f"{other.licence_id}: licence in {other.line.currency}, partner billed in {partner.currency}")
    start, end = parse_period(period)
    charge_key = f"period:{partner_id}:{period}"
    if not mine:
        found = session.exec(select(Invoice).where(Invoice.charge_key == charge_key)).first()
        return found.id if found is not None else None
    spans = {b.line.key: b.span for b in mine if b.span is not None}
    invoice = claim_invoice(session, charge_key=charge_key, kind=InvoiceKind.period, partner_id=partner_id,
                            period=period, provider=backend.name, currency=partner.currency,
                            status=InvoiceStatus.draft, usage_from=min((s[0] for s in spans.values()), default=start),
                            usage_to=end)
    if invoice.status != InvoiceStatus.draft:
        return invoice.id
    # Still a draft (new, or left by a run that died or was held back): its lines follow the usage
    # counted now, and the provider's draft is brought to the same lines when it is sent.
    set_lines(session, invoice, [b.line for b in mine], licence_ids={b.line.key: b.licence_id for b in mine},
              spans=spans)
    invoice.usage_from = min((s[0] for s in spans.values()), default=start)
    session.add(invoice)
    return invoice.id


def _invoice_partner(engine: Engine, partner_id: str, period: str, *, backend: BillingBackend, settings: Settings,
                     summary: RunSummary) -> None:
    with session_scope(engine) as session:
        invoice_id = _prepare(session, partner_id, period, backend=backend, summary=summary)
    if invoice_id is None:
        return
    issued = issuing.issue_now(engine, invoice_id, backend=backend, settings=settings)
    if issued.outcome in ("already", "busy"):  # issued before, or being issued by a concurrent run
        summary.already_invoiced += 1
    elif issued.outcome == "held":
        summary.failed[partner_id] = f"TotalsDisagree: {issued.reason}"
        log.error("billing run %s: partner %s held back: %s", period, partner_id, issued.reason)
    elif issued.outcome == "issued":
        summary.invoices_created += 1
        summary.lines += issued.lines
        summary.totals[issued.currency] = summary.totals.get(issued.currency, 0) + issued.total


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
    if not backend.capabilities.keeps_invoices:
        return []  # the invoices live only in our database (the ledger): nothing to compare with
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
