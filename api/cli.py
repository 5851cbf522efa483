"""The `syndicate` command. Heavy modules are imported inside commands so `--help` is quick."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

# Commands that work on any database, or check it themselves (`serve` migrates first with --demo).
NO_MIGRATED_DATABASE_NEEDED = {"db", "openapi", "serve"}
HELP_FLAGS = {"--help", "-h"}


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; raise the returned Exit (status 2, like a usage error)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


class _Syndicate(TyperGroup):
    """Checks, before any command that touches the database runs, that the database is reachable
    and migrated: a clear message and status 2, never a SQLAlchemy traceback halfway through."""

    def resolve_command(self, ctx, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        asks_for_help = bool(HELP_FLAGS & set(rest)) or (isinstance(command, TyperGroup) and not rest)
        if name not in NO_MIGRATED_DATABASE_NEEDED and not asks_for_help and not ctx.resilient_parsing:
            require_database()
        return name, command, rest


# Plain click help and errors (rich_markup_mode=None): rich's help renderer alone took longer to
# import than the rest of `syndicate --help` (benchmarks: README, "Start").
app = typer.Typer(cls=_Syndicate, help="Syndicate: a publisher's content-licensing desk.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False, rich_markup_mode=None)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")


def _settings():
    from pydantic import ValidationError

    from api.core.config import get_settings

    from api.core import passwords

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise fail(f"the SYNDICATE_* settings are not valid: {problems}") from exc
    passwords.configure(settings)
    return settings


def _engine():
    from api.core.db import make_engine

    return make_engine(_settings().database_url)


def require_database() -> None:
    """Exit with the server's own message when the database is unreachable or not migrated."""
    from sqlalchemy.exc import DBAPIError

    from api.core.config import mask_url
    from api.core.migrations import UnmigratedDatabase, require_current

    settings = _settings()
    engine = _engine()
    try:
        require_current(engine, settings.database_url)
    except UnmigratedDatabase as exc:
        raise fail(str(exc)) from exc
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise fail(f"cannot reach the database at {mask_url(settings.database_url)}: {reason}") from exc
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from api.core.migrations import upgrade

    upgrade(_settings().database_url, revision)
    typer.echo(f"database migrated to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration and the latest one."""
    from sqlalchemy.exc import DBAPIError

    from api.core.config import mask_url
    from api.core.migrations import current_revision, head_revision

    settings = _settings()
    try:
        current = current_revision(_engine())
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise fail(f"cannot reach the database at {mask_url(settings.database_url)}: {reason}") from exc
    typer.echo(f"current: {current or 'none'}\nlatest:  {head_revision(settings.database_url)}")


@db_app.command("check")
def db_check() -> None:
    """Report drift between the database's schema and the models (exit 1 when they differ)."""
    import api.models  # noqa: F401 - registers every table with the metadata compared
    from api.core.schema_diff import schema_differences

    engine = _engine()
    try:
        differences = schema_differences(engine)
    finally:
        engine.dispose()
    if not differences:
        typer.echo("the database schema matches the models")
        return
    typer.echo(f"the database schema differs from the models in {len(differences)} place(s):")
    for difference in differences:
        typer.echo(f"  {difference}")
    typer.echo("Run `syndicate db upgrade`; if that does not clear it, a migration is missing or the schema was "
               "changed by hand.")
    raise typer.Exit(1)


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
        raise fail(exc.detail) from exc
    typer.echo(f"created staff user {user.id} <{user.email}> roles={','.join(user.roles)}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Migrate, load demo data and print demo credentials first.")] = False,
) -> None:
    """Run the API server."""
    settings = _settings()
    base = listening_url(host, port)
    if "public_base_url" not in settings.model_fields_set:
        # Absolute URLs (JWKS, feeds, attribution, sign-in links) must reach this server: unless the
        # operator named a public URL, it is where we listen. The workers read it from the environment.
        import os

        from api.core.config import get_settings

        os.environ["SYNDICATE_PUBLIC_BASE_URL"] = base
        get_settings.cache_clear()
        settings = _settings()
    if settings.environment == "production" and workers > 1 and not settings.redis_url:
        raise fail(f"--workers {workers} without SYNDICATE_REDIS_URL would give every worker its own rate-limit "
                   "counters (each limit multiplied by the workers); set SYNDICATE_REDIS_URL or run one worker.")
    credentials: list[str] = []
    if demo:
        if settings.environment == "production":
            raise fail("--demo loads demo accounts with a published password and is refused when "
                       "SYNDICATE_ENVIRONMENT=production; run `syndicate serve` without --demo.")
        from api.core.migrations import upgrade
        from api.demo.loader import load_demo

        upgrade(settings.database_url)
        engine = _engine()
        try:
            credentials = load_demo(engine, settings)
        finally:
            engine.dispose()
    require_database()
    for line in banner(host, port, credentials, demo=demo):
        typer.echo(line)
    # The app itself believes X-Forwarded-For only from SYNDICATE_TRUSTED_PROXIES (see api.app).
    # The app writes its own access log (SYNDICATE_ACCESS_LOG, api/core/access_log.py), off the event loop.
    run_server(host, port, workers)


def run_server(host: str, port: int, workers: int) -> None:
    """`uvicorn.run("api.main:app", ...)`, plus what it cannot pass: uvicorn's `callback_notify`, by
    which each worker process learns that it listens, so the in-process worker and the cache preload
    start then, not before (api/core/startup.py)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.core.startup import server_listening

    config = uvicorn.Config("api.main:app", host=host, port=port, workers=workers, proxy_headers=False,
                            log_level="info", access_log=False, callback_notify=server_listening)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's own status for a server that never started


def listening_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches `serve --host --port`."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def banner(host: str, port: int, credentials: list[str], *, demo: bool) -> list[str]:
    """What `serve` prints before it starts: the demo credentials, then where it listens."""
    base = listening_url(host, port)
    lines = ["Demo data loaded. Credentials:", *(f"  {line}" for line in credentials)] if demo else []
    lines += [f"Syndicate listening on {base}  (API docs: {base}/docs, staff console: {base}/console)"]
    return lines


@app.command("worker")
def worker(once: Annotated[bool, typer.Option(help="Run one pass and exit.")] = False) -> None:
    """Run background jobs (outbox, expiry, invoicing); safe to run several at once."""
    import logging

    from api.worker import Worker, run_once

    logging.basicConfig(level=logging.INFO)
    from api.core.config import configure_worker

    settings = _settings()
    configure_worker(settings)
    engine = _engine()
    if once:
        typer.echo(f"delivered {run_once(engine, settings)} outbox message(s)")
        return
    Worker(engine, settings.worker_poll_seconds, settings).run_forever()


@app.command("openapi")
def openapi(output: Annotated[Optional[Path], typer.Option(help="Write here instead of stdout.")] = None) -> None:
    """Print (or write) the OpenAPI document."""
    from api.contract import render

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
