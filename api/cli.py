"""The `syndicate` command. Heavy modules are imported inside commands so `--help` is quick."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Syndicate: a publisher's content-licensing desk.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")


def _settings():
    from api.core.config import get_settings

    return get_settings()


def _engine():
    from api.core.db import make_engine

    return make_engine(_settings().database_url)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from api.core.migrations import upgrade

    upgrade(_settings().database_url, revision)
    typer.echo(f"database migrated to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration and the latest one."""
    from api.core.migrations import current_revision, head_revision

    settings = _settings()
    typer.echo(f"current: {current_revision(_engine()) or 'none'}\nlatest:  {head_revision(settings.database_url)}")


@staff_app.command("create")
def staff_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[str], typer.Option("--role", help="admin, licensing, finance or editor; repeatable.")],
    password: Annotated[Optional[str], typer.Option(help="At least 12 characters; prompted when omitted.")] = None,
) -> None:
    """Create a staff user."""
    from api.core.db import session_scope
    from api.core.errors import SyndicateError
    from api.staff import service

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(_engine()) as session:
            user = service.create_staff(session, email=email, name=name, password=password, roles=role)
    except SyndicateError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created staff user {user.id} <{user.email}> roles={','.join(user.roles)}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Migrate, load demo data and print demo credentials first.")] = False,
) -> None:
    """Run the API server."""
    import uvicorn

    from api.app import UnmigratedDatabase, check_migrated

    settings = _settings()
    if demo:
        from api.core.migrations import upgrade
        from api.demo.loader import load_demo

        upgrade(settings.database_url)
        credentials = load_demo(_engine(), settings)
        typer.echo("Demo data loaded. Credentials:")
        for line in credentials:
            typer.echo(f"  {line}")
    try:
        check_migrated(settings, _engine())
    except UnmigratedDatabase as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Syndicate listening on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, proxy_headers=True, log_level="info")


@app.command("worker")
def worker(once: Annotated[bool, typer.Option(help="Run one pass and exit.")] = False) -> None:
    """Run background jobs (outbox, expiry, invoicing); safe to run several at once."""
    import logging

    from api.worker import Worker, run_once

    logging.basicConfig(level=logging.INFO)
    settings = _settings()
    engine = _engine()
    if once:
        typer.echo(f"delivered {run_once(engine)} outbox message(s)")
        return
    Worker(engine, settings.worker_poll_seconds).run_forever()


@app.command("openapi")
def openapi(output: Annotated[Optional[Path], typer.Option(help="Write here instead of stdout.")] = None) -> None:
    """Print (or write) the OpenAPI document."""
    from api.openapi_doc import render

    text = render()
    if output:
        output.write_text(text)
        typer.echo(f"wrote {output}")
    else:
        sys.stdout.write(text)


def _register_domain_commands() -> None:
    import importlib

    for module_name in ("api.catalogue.cli", "api.partners.cli", "api.licensing.cli", "api.delivery.cli", "api.invoicing.cli",
                        "api.outbox.cli"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)


_register_domain_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
