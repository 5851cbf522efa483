"""`syndicate billing run|reconcile`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

billing_app = typer.Typer(help="Invoices and reconciliation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(billing_app, name="billing")


@billing_app.command("run")
def run(period: Annotated[Optional[str], typer.Option(help="Month to invoice, YYYY-MM (default: last month).")] = None) -> None:
    """Invoice every partner's usage and fees for PERIOD, once; running it again changes nothing."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from api.core.db import make_engine, session_scope, utcnow
    from api.core.errors import SyndicateError
    from api.core.money import format_amount
    from api.invoicing import periods, provider

    settings = provider.current_settings()
    period = period or periods.previous_period(utcnow())
    engine = make_engine(settings.database_url)
    console = Console()
    try:
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


@billing_app.command("reconcile")
def reconcile() -> None:
    """Compare our invoices with the provider's and list every difference (exit 1 if any)."""
    from rich.console import Console
    from rich.table import Table

    from api.core.db import make_engine, session_scope
    from api.invoicing import periods, provider

    settings = provider.current_settings()
    with session_scope(make_engine(settings.database_url)) as session:
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
