"""`syndicate keys ...`: licence-token signing keys."""

from __future__ import annotations

import typer


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
