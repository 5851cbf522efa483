"""`syndicate invoicing run|invoice-now|reconcile`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

invoicing_app = typer.Typer(help="Invoices and reconciliation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(invoicing_app, name="invoicing")


@invoicing_app.command("run")
def run(period: Annotated[Optional[str], typer.Option(help="Month to invoice, YYYY-MM (default: last month).")] = None) -> None:
    """Invoice every partner's usage and fees for PERIOD, once; running it again changes nothing."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from api.core.db import make_engine, session_scope, utcnow
    from api.core.errors import SyndicateError
    from api.core.money import format_amount
    from api.core.config import worker_settings
    from api.invoicing import periods, provider

    settings = worker_settings()
    period = period or periods.previous_period(utcnow())
    engine = make_engine(settings.database_url)
    console = Console()
    try:
        periods.closed_period(period)  # an open period is refused before anything is read
        with session_scope(engine) as session:
            count = len(periods.collect(session, period))
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(f"Invoicing {period}", total=count)
            summary = periods.run_period(engine, period, backend=provider.backend(settings), settings=settings,
                                         progress=lambda _partner: bar.advance(task))
    except SyndicateError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    table = Table(title=f"Billing run {period} ({settings.billing_backend})")
    for column in ("partners", "invoices created", "already invoiced", "lines", "failed"):
        table.add_column(column, justify="right")
    table.add_row(str(summary.partners), str(summary.invoices_created), str(summary.already_invoiced),
                  str(summary.lines), str(len(summary.failed)))
    console.print(table)
    for currency, total in sorted(summary.totals.items()):
        console.print(f"total {currency}: {format_amount(total, currency)} ({total} minor units)")
    for line in summary.skipped:
        console.print(f"[yellow]skipped[/yellow] {line}")
    for partner_id, error in summary.failed.items():
        console.print(f"[red]failed[/red] {partner_id}: {error}")
    if summary.failed:
        raise typer.Exit(1)


@invoicing_app.command("invoice-now")
def invoice_now(
    partner: Annotated[Optional[str], typer.Option(help="Partner id: bill all of its usage not billed yet.")] = None,
    licence: Annotated[Optional[str], typer.Option(help="Licence id: bill only this licence's usage.")] = None,
    cutoff: Annotated[Optional[datetime], typer.Option(help="Bill usage before this UTC instant (default: now).",
                                                       formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"])] = None,
) -> None:
    """Invoice a partner's (or licence's) usage up to a cut-off; the next invoice starts exactly there."""
    from datetime import UTC

    from rich.console import Console

    from api.audit.service import Actor
    from api.core.db import make_engine, session_scope
    from api.core.errors import SyndicateError
    from api.core.money import format_amount
    from api.core.config import worker_settings
    from api.invoicing import cutoffs, issuing, provider
    from billing import BillingError

    console = Console()
    if not partner and not licence:
        console.print("[red]error:[/red] name the partner (--partner) or the licence (--licence) to invoice.")
        raise typer.Exit(2)
    settings = worker_settings()
    backend = provider.backend(settings)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            invoice = cutoffs.invoice_now(
                session, partner_id=partner, licence_id=licence, provider=backend.name, actor=Actor.system("cli"),
                cutoff=cutoff.replace(tzinfo=cutoff.tzinfo or UTC) if cutoff else None)
        # Sent here and now, in three steps; the outbox message queued with it then finds it issued.
        issued = issuing.issue_now(engine, invoice.id, backend=backend, settings=settings)
    except SyndicateError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    except BillingError as exc:  # the draft stays; the worker's outbox message sends it later
        console.print(f"[red]not sent yet[/red] ({type(exc).__name__}: {exc}); the worker retries it.")
        raise typer.Exit(1) from exc
    console.print(f"invoice {invoice.id} ({issued.outcome}): {format_amount(invoice.total, invoice.currency)} "
                  f"for usage {invoice.usage_from:%Y-%m-%d %H:%M:%S} to {invoice.usage_to:%Y-%m-%d %H:%M:%S} UTC")
    if issued.outcome == "held":
        console.print(f"[red]held back[/red]: {issued.reason}")
        raise typer.Exit(1)


@invoicing_app.command("reconcile")
def reconcile() -> None:
    """Compare our invoices with the provider's and list every difference (exit 1 if any)."""
    from rich.console import Console
    from rich.table import Table

    from api.core.config import worker_settings
    from api.core.db import make_engine, read_only, session_scope
    from api.invoicing import periods, provider

    settings = worker_settings()
    # Read-only: the provider's invoices are listed with no write transaction (SQLite's lock) held.
    with session_scope(read_only(make_engine(settings.database_url))) as session:
        diffs = periods.reconcile(session, backend=provider.backend(settings))
    console = Console()
    if not diffs:
        console.print(f"No differences between our invoices and {settings.billing_backend}'s.")
        return
    table = Table(title=f"{len(diffs)} difference(s)")
    for column in ("invoice", "provider invoice", "field", "ours", "theirs"):
        table.add_column(column)
    for d in diffs:
        table.add_row(d.invoice_id or "-", d.provider_invoice_id or "-", d.field, str(d.ours), str(d.theirs))
    console.print(table)
    raise typer.Exit(1)
