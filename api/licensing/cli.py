"""`syndicate licences ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    licences_app = typer.Typer(help="Licences.", no_args_is_help=True)
    app.add_typer(licences_app, name="licences")

    @licences_app.command("expire")
    def expire(batch_size: Annotated[int, typer.Option(min=1, help="Licences per transaction.")] = 200) -> None:
        """Expire every active licence whose period has ended (what the worker does each minute)."""
        from api.core.config import get_settings
        from api.core.db import make_engine
        from api.licensing import licences

        count = licences.expire_due(make_engine(get_settings().database_url), batch_size=batch_size)
        typer.echo(f"expired {count} licence(s)")

    @licences_app.command("seed-rate-card")
    def seed_rate_card() -> None:
        """Publish the default rate card if none exists yet."""
        from api.core.config import get_settings
        from api.core.db import make_engine, session_scope
        from api.licensing import ratecard

        with session_scope(make_engine(get_settings().database_url)) as session:
            row = ratecard.ensure_default_rate_card(session)
        typer.echo(f"rate card version {row.version} is current")
