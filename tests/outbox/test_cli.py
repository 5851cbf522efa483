"""`syndicate outbox list` and `syndicate outbox retry`."""

from __future__ import annotations

from sqlmodel import select

from api.cli import app as cli
from api.core.db import session_scope
from api.outbox.models import OutboxMessage
from tests.outbox.test_service import make_messages
from tests.conftest import cli_runner as runner



def _statuses(engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {m.id: m.status for m in session.exec(select(OutboxMessage)).all()}


def test_list_shows_dead_messages_with_their_error(cli_env, engine) -> None:
    ids = make_messages(engine)
    listed = runner.invoke(cli, ["outbox", "list", "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    assert ids["dead"] in listed.output and ids["dead email"] in listed.output and ids["done"] not in listed.output
    assert "ConnectionError: gone" in listed.output and "attempts 12/12" in listed.output
    by_topic = runner.invoke(cli, ["outbox", "list", "--status", "dead", "--topic", "email.send"]).output
    assert ids["dead email"] in by_topic and ids["dead"] not in by_topic
    bad = runner.invoke(cli, ["outbox", "list", "--status", "lost"])
    assert bad.exit_code == 2 and "not one of pending, done, dead" in bad.output


def test_retry_by_id_and_every_dead_message_of_a_topic(cli_env, engine) -> None:
    ids = make_messages(engine)
    one = runner.invoke(cli, ["outbox", "retry", ids["dead"]])
    assert one.exit_code == 0 and f"{ids['dead']}  test.ops  due now" in one.output
    assert _statuses(engine)[ids["dead"]] == "pending" and _statuses(engine)[ids["dead email"]] == "dead"

    refused = runner.invoke(cli, ["outbox", "retry", ids["done"], "obx_missing"])
    assert refused.exit_code == 2 and "was delivered" in refused.output and "No outbox message obx_missing" in refused.output

    by_topic = runner.invoke(cli, ["outbox", "retry", "--dead", "--topic", "email.send"])
    assert by_topic.exit_code == 0 and "revived 1 dead message(s)" in by_topic.output
    assert set(_statuses(engine).values()) == {"pending", "done"}


def test_retry_needs_ids_or_dead(cli_env, engine) -> None:
    assert runner.invoke(cli, ["outbox", "retry"]).exit_code == 2
    assert runner.invoke(cli, ["outbox", "retry", "obx_1", "--dead"]).exit_code == 2
    assert runner.invoke(cli, ["outbox", "retry", "obx_1", "--topic", "email.send"]).exit_code == 2
