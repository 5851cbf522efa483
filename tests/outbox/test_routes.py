"""Staff (admin) outbox endpoints over HTTP."""

from __future__ import annotations

from sqlmodel import select

from api.outbox.models import OutboxMessage
from tests.builders import staff_headers
from tests.outbox.test_service import make_messages


def test_admins_list_the_outbox_by_status_and_topic_with_a_cursor(client, session, engine) -> None:
    ids = make_messages(engine)
    admin = staff_headers(client, session, roles=["admin"])
    dead = client.get("/v1/staff/outbox", params={"status": "dead"}, headers=admin)
    assert dead.status_code == 200, dead.text
    assert {m["id"] for m in dead.json()["items"]} == {ids["dead"], ids["dead email"]}
    assert dead.json()["items"][0]["last_error"] == "ConnectionError: gone"
    only_email = client.get("/v1/staff/outbox", params={"status": "dead", "topic": "email.send"}, headers=admin).json()
    assert [m["id"] for m in only_email["items"]] == [ids["dead email"]]

    first = client.get("/v1/staff/outbox", params={"limit": 3}, headers=admin).json()
    second = client.get("/v1/staff/outbox", params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin).json()
    assert [m["id"] for m in first["items"] + second["items"]] == sorted(ids.values(), reverse=True)
    assert second["next_cursor"] is None

    bad = client.get("/v1/staff/outbox", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"


def test_admins_revive_a_dead_message_and_get_problems_otherwise(client, session, engine) -> None:
    ids = make_messages(engine)
    admin = staff_headers(client, session, roles=["admin"])
    revived = client.post(f"/v1/staff/outbox/{ids['dead']}/retry", headers=admin)
    assert revived.status_code == 200, revived.text
    assert (revived.json()["status"], revived.json()["attempts"]) == ("pending", 0)

    done = client.post(f"/v1/staff/outbox/{ids['done']}/retry", headers=admin)
    assert done.status_code == 409 and done.json()["type"] == "/problems/outbox-message-not-retryable"
    assert done.json()["message_status"] == "done"
    missing = client.post("/v1/staff/outbox/obx_missing/retry", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/outbox-message-not-found"
    assert session.exec(select(OutboxMessage.status).where(OutboxMessage.id == ids["done"])).one() == "done"


def test_only_admins_see_or_retry_the_outbox(client, session, engine) -> None:
    ids = make_messages(engine)
    licensing = staff_headers(client, session, roles=["licensing"])
    assert client.get("/v1/staff/outbox", headers=licensing).status_code == 403
    assert client.post(f"/v1/staff/outbox/{ids['dead']}/retry", headers=licensing).status_code == 403
    assert client.get("/v1/staff/outbox").status_code == 401
    assert session.exec(select(OutboxMessage.status).where(OutboxMessage.id == ids["dead"])).one() == "dead"
