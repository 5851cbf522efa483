"""`syndicate keys ...`: licence-token signing keys."""

from __future__ import annotations

from typing import Annotated

import typer

OPERATOR = ("system", "cli")


def register(app: typer.Typer) -> None:
    keys_app = typer.Typer(help="Licence-token signing keys.", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")

    @keys_app.command("rotate")
    def rotate() -> None:
        """Sign new tokens with a new key; tokens of older keys stay valid until they expire."""
        from api.core.config import get_settings
        from api.core.db import make_engine, session_scope
        from api.delivery import service

        settings = get_settings()
        with session_scope(make_engine(settings.database_url)) as session:
            kid = service.rotate_keys(session, settings)
        typer.echo(f"new signing key {kid}; previous keys verify until their tokens expire")

    @keys_app.command("retire")
    def retire(kid: Annotated[str, typer.Argument(help="The key's id (kid_...), from `syndicate keys list`.")]) -> None:
        """Stop a key verifying now: its tokens are refused by every server within a second and the
        JWKS drops it (retiring the signing key starts a new one). Audited."""
        from api.audit.service import Actor
        from api.core.config import get_settings
        from api.core.db import make_engine, session_scope
        from api.core.errors import SyndicateError
        from api.delivery import service

        settings = get_settings()
        try:
            with session_scope(make_engine(settings.database_url)) as session:
                service.retire_key(session, settings, kid=kid, actor=Actor(*OPERATOR))
        except SyndicateError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"{kid} retired: its tokens are refused from now on")

    @keys_app.command("list")
    def list_keys() -> None:
        """Show the keys that currently verify tokens (newest first)."""
        from api.core.config import get_settings
        from api.core.db import make_engine, session_scope
        from api.delivery.keys import verification_keys

        settings = get_settings()
        with session_scope(make_engine(settings.database_url)) as session:
            for key in verification_keys(session):
                state = f"retired, verifies until {key.verify_until.isoformat()}" if key.retired_at and key.verify_until else "signing"
                typer.echo(f"{key.kid}  {key.algorithm}  created {key.created_at.isoformat()}  {state}")
