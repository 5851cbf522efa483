"""`syndicate partners ...`: operators create, list, verify and suspend partner accounts."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

partners_app = typer.Typer(help="Partner organisations and their API keys.", no_args_is_help=True)
OPERATOR = ("system", "cli")


def register(app: typer.Typer) -> None:
    app.add_typer(partners_app, name="partners")


def _engine():
    from api.core.config import get_settings
    from api.core.db import make_engine

    return make_engine(get_settings().database_url)


def _fail(exc) -> None:
    typer.echo(f"error: {exc.detail}", err=True)
    raise typer.Exit(2) from exc


@partners_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code, e.g. GB.")],
    email: Annotated[str, typer.Option(help="Billing e-mail address; also receives notifications.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency the partner is billed in, e.g. GBP.")],
    website: Annotated[Optional[str], typer.Option(help="The outlet's home page.")] = None,
    verified: Annotated[bool, typer.Option("--verified/--pending", help="Create it active (default) or pending.")] = True,
    key_name: Annotated[str, typer.Option(help="A name for the first API key.")] = "default",
) -> None:
    """Create a partner and print its first API key (shown only this once)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic import EmailStr

    from api.audit.service import Actor
    from api.core.db import session_scope
    from api.core.errors import SyndicateError
    from api.partners import service

    try:
        TypeAdapter(EmailStr).validate_python(email)
    except ValidationError as exc:
        typer.echo(f"error: '{email}' is not a valid e-mail address.", err=True)
        raise typer.Exit(2) from exc
    try:
        with session_scope(_engine()) as session:
            partner, key, raw = service.register_partner(
                session, name=name, country=country, billing_email=email, currency=currency, website=website,
                key_name=key_name, verified=verified, actor=Actor(*OPERATOR),
            )
    except SyndicateError as exc:
        _fail(exc)
    typer.echo(f"created partner {partner.id} ({partner.name}, {partner.status})")
    typer.echo(f"API key {key.prefix}... (store it now; it is not shown again):\n{raw}")


@partners_app.command("list")
def list_(
    status: Annotated[Optional[str], typer.Option(help="Only partners in this status: pending, active or suspended.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 50,
) -> None:
    """List partners, newest first."""
    from api.core.db import session_scope
    from api.partners import service
    from api.partners.models import PartnerStatus

    try:
        wanted = PartnerStatus(status) if status else None
    except ValueError as exc:
        typer.echo(f"error: unknown status '{status}'; use pending, active or suspended.", err=True)
        raise typer.Exit(2) from exc
    with session_scope(_engine()) as session:
        partners, _next = service.list_partners(session, status=wanted, limit=limit)
    if not partners:
        typer.echo("no partners")
    for p in partners:
        typer.echo(f"{p.id}  {p.status:<9}  {p.country}  {p.currency}  {p.billing_email:<32}  {p.name}")


def _set_status(partner_id: str, action: str, reason: str | None) -> None:
    from api.audit.service import Actor
    from api.core.db import session_scope
    from api.core.errors import SyndicateError
    from api.partners import service

    change = service.verify_partner if action == "verify" else service.suspend_partner
    try:
        with session_scope(_engine()) as session:
            partner = change(session, partner_id, actor=Actor(*OPERATOR), reason=reason)
    except SyndicateError as exc:
        _fail(exc)
    typer.echo(f"{partner.id} is now {partner.status}")


@partners_app.command("verify")
def verify(
    partner_id: Annotated[str, typer.Argument(help="The partner's id (ptn_...).")],
    reason: Annotated[Optional[str], typer.Option(help="Kept in the audit trail.")] = None,
) -> None:
    """Verify a pending partner (or reactivate a suspended one); the partner is e-mailed."""
    _set_status(partner_id, "verify", reason)


@partners_app.command("suspend")
def suspend(
    partner_id: Annotated[str, typer.Argument(help="The partner's id (ptn_...).")],
    reason: Annotated[Optional[str], typer.Option(help="Kept in the audit trail and told to the partner.")] = None,
) -> None:
    """Suspend a partner: its API keys stop working at once."""
    _set_status(partner_id, "suspend", reason)
