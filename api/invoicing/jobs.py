"""Periodic jobs of the billing domain (imported by api.jobs); importing it registers the billing
outbox senders too (issuing, charging, cancellations, amendments, webhooks)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from api.core.config import worker_settings
from api.core.db import session_scope, utcnow
from api.core.periodic import periodic
from api.invoicing import amendments, webhooks  # noqa: F401 - register their outbox senders
from api.invoicing import cancellations, charging, periods, provider
from api.invoicing import service as invoicing

log = logging.getLogger("syndicate.invoicing.jobs")


@periodic("invoicing.charge_sweep", every_seconds=3600)
def sweep_uncharged(engine: Engine) -> None:
    """Licences still awaiting payment with nothing to pay (their charge gave up in a long outage,
    or was held back) get their charge queued again."""
    with session_scope(engine) as session:
        queued = charging.sweep_uncharged(session)
    if queued:
        log.warning("charge sweep: queued the charge of %d licence(s) again: %s", len(queued), ", ".join(queued))


@periodic("invoicing.suspend_overdue", every_seconds=3600)
def suspend_overdue(engine: Engine) -> None:
    with session_scope(engine) as session:
        suspended = invoicing.suspend_overdue(session, grace_days=worker_settings().payment_grace_days)
    if suspended:
        log.info("suspended %d licence(s) with invoices unpaid past the grace period", len(suspended))


@periodic("invoicing.cancel_unpaid", every_seconds=3600)
def cancel_unpaid(engine: Engine) -> None:
    """Licences never paid: cancelled once their invoice is past due plus the grace period."""
    with session_scope(engine) as session:
        cancelled = cancellations.cancel_overdue(session, grace_days=worker_settings().payment_grace_days)
    if cancelled:
        log.info("cancelled %d unpaid licence(s) past their due date and grace period", len(cancelled))


@periodic("invoicing.period_invoicing", every_seconds=3600)
def invoice_last_period(engine: Engine) -> None:
    """Invoice the month that just ended. Hourly, because repeating it is free and catches up after downtime."""
    period = periods.previous_period(utcnow())
    summary = periods.run_period(engine, period, backend=provider.backend(), settings=worker_settings())
    if summary.invoices_created or summary.failed:
        log.info("billing run %s: %d invoice(s), %d failed", period, summary.invoices_created, len(summary.failed))


# The usage log's retention is invoicing's call: no raw event may go that a period still to be billed needs.
@periodic("usage_event.partitions", every_seconds=6 * 3600)
def create_usage_partitions(engine: Engine) -> list[str]:
    """PostgreSQL: the usage log's monthly partitions, created months before they are written."""
    from api.invoicing import usage_retention

    return usage_retention.ensure_partitions(engine, ahead_months=worker_settings().usage_partitions_ahead_months)


@periodic("usage_event.retention", every_seconds=3600)
def prune_usage_events(engine: Engine) -> int:
    """Raw usage events past retention go (whole months on PostgreSQL); rollups stay."""
    from api.invoicing import usage_retention

    return usage_retention.prune_usage_events(engine, retention_days=worker_settings().usage_event_retention_days)
