"""`syndicate outbox ...`: operators see what is waiting or dead, and revive it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

outbox_app = typer.Typer(help="Messages waiting to leave (e-mails, webhooks, provider calls).", no_args_is_help=True)
OPERATOR = ("system", "cli")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


def _engine():
    from api.core.config import get_settings
    from api.core.db import make_engine

    return make_engine(get_settings().database_url)


@outbox_app.command("list")
def list_messages(
    status: Annotated[Optional[str], typer.Option(help="pending, done or dead.")] = None,
    topic: Annotated[Optional[str], typer.Option(help="Only this topic, e.g. email.send.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many, newest first.")] = 50,
) -> None:
    """List outbox messages, newest first."""
    from api.core.db import session_scope
    from api.core.errors import SyndicateError
    from api.outbox import service

    try:
        with session_scope(_engine()) as session:
            rows, _cursor = service.list_messages(session, status=status, topic=topic, limit=limit)
    except SyndicateError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    if not rows:
        typer.echo("no outbox messages")
        return
    for m in rows:
        error = f"  {m.last_error}" if m.last_error and m.status != "done" else ""
        typer.echo(f"{m.id}  {m.topic}  {m.status}  attempts {m.attempts}/{m.max_attempts}  "
                   f"next {m.next_attempt_at.isoformat()}{error}")


@outbox_app.command("retry")
def retry(
    message_ids: Annotated[Optional[list[str]], typer.Argument(help="Messages to retry now.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Revive every dead message (of --topic).")] = False,
    topic: Annotated[Optional[str], typer.Option(help="With --dead: only this topic.")] = None,
) -> None:
    """Revive dead messages (or make pending ones due now): by id, or every dead one with --dead."""
    from api.audit.service import Actor
    from api.core.db import session_scope
    from api.core.errors import SyndicateError
    from api.outbox import service

    if bool(message_ids) == dead:
        typer.echo("error: give message ids or --dead, not both and not neither.", err=True)
        raise typer.Exit(2)
    if topic and not dead:
        typer.echo("error: --topic goes with --dead.", err=True)
        raise typer.Exit(2)
    actor = Actor(*OPERATOR)
    if dead:
        with session_scope(_engine()) as session:
            revived = service.retry_dead(session, topic=topic, actor=actor)
        typer.echo(f"revived {len(revived)} dead message(s)")
        return
    failed = False
    engine = _engine()
    for message_id in message_ids or []:
        try:
            with session_scope(engine) as session:
                message = service.retry(session, message_id=message_id, actor=actor)
            typer.echo(f"{message.id}  {message.topic}  due now")
        except SyndicateError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            failed = True
    if failed:
        raise typer.Exit(2)
