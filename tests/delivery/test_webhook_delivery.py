"""How webhooks are delivered: concurrently and isolated per endpoint, each attempt under a deadline;
the Standard Webhooks retry rules (410 Gone, Retry-After, the schedule), interrupted attempts after a
worker crash, and secret rotation with two signatures."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import update
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import api.jobs  # noqa: F401  - registers the outbox handlers
from api.catalogue import service as catalogue
from api.core.db import session_scope, utcnow
from api.delivery import webhook_send
from api.delivery.models import WebhookDelivery
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, staff_headers
from tests.delivery.receivers import drain_everything_due


def _register(client, licensed, url: str) -> dict:
    response = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": url})
    assert response.status_code == 201, response.text
    return response.json()


def _deliveries(engine, endpoint_id: str) -> list[WebhookDelivery]:
    with session_scope(engine) as s:
        rows = s.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                      .order_by(WebhookDelivery.id)).all()
        s.expunge_all()
        return list(rows)


def _takedown(session, engine, licensed, article_index: int = 0) -> None:
    catalogue.withdraw_article(session, licensed.articles[article_index].id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    outbox.drain(engine, topics={"article.changed"})  # the fan-out only


def _send_topic_messages(session) -> list[OutboxMessage]:
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.topic == webhook_send.SEND_TOPIC)
                        .execution_options(populate_existing=True)).all()
    session.commit()
    return list(rows)


# --- one slow endpoint does not delay the others -------------------------------------------------

def test_hung_and_trickling_endpoints_do_not_delay_a_healthy_one(client, session, engine, licensed, receiver,
                                                                 misbehaving, settings, monkeypatch):
    monkeypatch.setattr(settings, "webhook_attempt_timeout_seconds", 3.0)
    slow = [_register(client, licensed, misbehaving.silent()) for _ in range(6)]
    slow.append(_register(client, licensed, misbehaving.trickling()))
    healthy_hook = receiver([])
    healthy = _register(client, licensed, healthy_hook.url)
    _takedown(session, engine, licensed, 0)
    _takedown(session, engine, licensed, 1)  # a backlog: two deliveries per endpoint

    # Fewer slots (8) than the slow endpoints could fill (7 endpoints x 2 per endpoint).
    worker = threading.Thread(target=outbox.drain, args=(engine,),
                              kwargs={"capacity": outbox.Capacity(concurrency=8, per_lane=2)})
    worker.start()
    try:
        assert healthy_hook.wait_for(2, timeout=5), "the healthy endpoint did not get both takedowns within 5 s"
        for _ in range(50):  # the outcome is recorded right after the answer
            if all(d.status == "succeeded" for d in _deliveries(engine, healthy["id"])):
                break
            threading.Event().wait(0.1)
        assert [d.status for d in _deliveries(engine, healthy["id"])] == ["succeeded", "succeeded"]
        # ... while the slow endpoints' first attempts are still being waited on.
        assert worker.is_alive()
        assert all(_deliveries(engine, e["id"])[0].attempts[-1]["state"] == "started" for e in slow)
    finally:
        worker.join(60)
    assert not worker.is_alive()
    for endpoint in slow:  # every slow attempt was cut off at the deadline, the trickling one included
        for delivery in _deliveries(engine, endpoint["id"]):
            assert delivery.status == "pending"
            assert [a["error"] for a in delivery.attempts] == ["Timeout: no complete answer within 3 s"]


def test_the_claim_keeps_a_lane_to_its_share(session, engine):
    """A lane's backlog (older messages) does not take every slot: at most `per_lane` in flight per lane,
    and the lanes with fewer in flight come first."""
    from api.outbox.dispatch import _claim

    for n in range(5):
        outbox.enqueue(session, "test.lane", {"n": n}, lane="webhook:slow")
    outbox.enqueue(session, "test.lane", {"n": 9}, lane="webhook:healthy")
    session.commit()
    capacity = outbox.Capacity(concurrency=3, per_lane=2)
    _token, first = _claim(engine, 3, {"test.lane"}, capacity)
    lanes = {row.id: row.lane for row in session.exec(select(OutboxMessage)).all()}
    session.commit()
    assert sorted(lanes[m] for m, _t in first) == ["webhook:healthy", "webhook:slow", "webhook:slow"]
    _token, again = _claim(engine, 3, {"test.lane"}, capacity)  # the slow lane already has two in flight
    assert again == []


# --- retry rules (item 5) ------------------------------------------------------------------------

def test_410_gone_disables_the_endpoint_until_the_partner_enables_it(client, session, engine, licensed, receiver):
    staff = staff_headers(client, session, roles=["licensing"])
    hook = receiver([410])
    endpoint = _register(client, licensed, hook.url)
    _takedown(session, engine, licensed, 0)
    drain_everything_due(engine)
    assert len(hook.received) == 1  # no retry after 410
    listed = client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"][0]
    assert listed["status"] == "disabled" and "410" in listed["disabled_reason"]
    staff_view = client.get("/v1/staff/webhook-endpoints?status=disabled", headers=staff)
    assert staff_view.status_code == 200, staff_view.text
    assert [e["id"] for e in staff_view.json()["items"]] == [endpoint["id"]]

    _takedown(session, engine, licensed, 1)  # while disabled: nothing is sent, the delivery is held
    drain_everything_due(engine)
    assert len(hook.received) == 1
    assert sorted(d.status for d in _deliveries(engine, endpoint["id"])) == ["held", "held"]

    enabled = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/enable", headers=licensed.key_headers)
    assert enabled.status_code == 200 and enabled.json()["status"] == "enabled"
    drain_everything_due(engine)
    assert len(hook.received) == 3  # both held deliveries, once each
    assert sorted(d.status for d in _deliveries(engine, endpoint["id"])) == ["succeeded", "succeeded"]
    assert client.get("/v1/staff/webhook-endpoints?status=disabled",
                      headers=staff).json()["items"] == []


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured_and_capped(client, session, engine, licensed, receiver, settings, monkeypatch,
                                            status, form):
    monkeypatch.setattr(settings, "webhook_retry_after_max_seconds", 3600)
    asked = "120" if form == "seconds" else format_datetime(utcnow() + timedelta(seconds=120), usegmt=True)
    hook = receiver([(status, {"Retry-After": asked}), (status, {"Retry-After": "86400"})])
    endpoint = _register(client, licensed, hook.url)
    _takedown(session, engine, licensed, 0)
    before = utcnow()
    outbox.drain(engine)
    [message] = _send_topic_messages(session)
    # The schedule says 5 s after a first failure; the endpoint asked for two minutes.
    assert message.next_attempt_at >= before + timedelta(seconds=115)
    [delivery] = _deliveries(engine, endpoint["id"])
    assert delivery.attempts[-1]["retry_after_seconds"] in (119, 120)

    session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    session.commit()
    before = utcnow()
    outbox.drain(engine)
    [message] = _send_topic_messages(session)
    assert before + timedelta(minutes=59) <= message.next_attempt_at <= utcnow() + timedelta(hours=1)  # capped


def test_the_retry_schedule_is_standard_webhooks_with_jitter():
    expected = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20), timedelta(hours=24)]
    assert list(webhook_send.SCHEDULE) == expected and webhook_send.MAX_ATTEMPTS == 10
    for attempts, wait in enumerate(expected, start=1):
        delays = {webhook_send.retry_delay(attempts) for _ in range(20)}
        assert all(wait * 0.9 <= d <= wait * 1.1 for d in delays) and len(delays) > 1


def test_retry_after_parsing():
    cap = timedelta(hours=1)
    assert webhook_send.parse_retry_after("30", cap=cap) == timedelta(seconds=30)
    assert webhook_send.parse_retry_after("999999", cap=cap) == cap
    in_ten = format_datetime(utcnow() + timedelta(minutes=10), usegmt=True)
    assert timedelta(minutes=9) <= webhook_send.parse_retry_after(in_ten, cap=cap) <= timedelta(minutes=10)
    assert webhook_send.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=cap) == timedelta()
    assert webhook_send.parse_retry_after("soon", cap=cap) is None and webhook_send.parse_retry_after(None, cap=cap) is None


def test_an_attempt_cut_off_by_a_worker_crash_is_recorded_and_retried_within_a_lease(
        client, session, engine, licensed, receiver, settings):
    """A worker records that the attempt started, then dies mid-send: its heartbeat stops, so its short
    lease lapses within seconds; the next worker marks the attempt interrupted and sends again."""
    from api.outbox.dispatch import _claim

    hook = receiver([])
    endpoint = _register(client, licensed, hook.url)
    _takedown(session, engine, licensed, 0)
    capacity = outbox.Capacity.from_settings(settings)
    assert capacity.lease <= timedelta(seconds=30)  # not the old two-minute lease
    token, [(message_id, topic)] = _claim(engine, 1, {webhook_send.SEND_TOPIC}, capacity)
    sender = webhook_send.WebhookSend()
    with session_scope(engine) as s:  # the crashed worker's prepare step, committed before it sent
        message = s.get(OutboxMessage, message_id)
        assert message.locked_until <= utcnow() + capacity.lease
        assert sender.prepare(s, dict(message.payload)) is not None
    assert _deliveries(engine, endpoint["id"])[0].attempts[-1]["state"] == "started"

    with session_scope(engine) as s:  # ... it dies; no heartbeat renews the lease, which runs out
        s.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
    assert outbox.drain(engine, topics={webhook_send.SEND_TOPIC}) == 1
    [delivery] = _deliveries(engine, endpoint["id"])
    assert delivery.status == "succeeded" and len(hook.received) == 1
    assert [a["state"] for a in delivery.attempts] == ["interrupted", "succeeded"]
    assert "worker stopped" in delivery.attempts[0]["error"]


# --- secret rotation -----------------------------------------------------------------------------

def test_rotation_signs_with_both_secrets_during_the_overlap(client, session, engine, licensed, receiver, settings,
                                                             monkeypatch):
    hook = receiver([])
    endpoint = _register(client, licensed, hook.url)
    old_secret = endpoint["secret"]
    rotated = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=licensed.key_headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and rotated.json()["previous_secret_expires_at"]
    _takedown(session, engine, licensed, 0)
    drain_everything_due(engine)

    [(headers, body)] = hook.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):  # the reference Standard Webhooks verifier accepts either
        assert Webhook(secret).verify(body, headers)["type"] == "article.withdrawn"
    data = json.loads(body)["data"]
    assert data["version"] >= 2 and data["occurred_at"]

    # After the overlap only the new secret signs.
    with session_scope(engine) as s:
        from api.delivery.models import WebhookEndpoint

        s.execute(update(WebhookEndpoint).values(previous_secret_expires_at=utcnow() - timedelta(seconds=1)))
    _takedown(session, engine, licensed, 1)
    drain_everything_due(engine)
    headers, body = hook.received[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(body, headers)


def test_a_rotation_of_someone_elses_endpoint_is_not_found(client, session, licensed):
    from tests.builders import make_api_key, make_partner

    endpoint = _register(client, licensed, "https://cms.outlet.example/hooks")
    other = make_api_key(session, make_partner(session))
    session.commit()
    for action in ("rotate-secret", "enable"):
        response = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/{action}", headers={"X-API-Key": other})
        assert response.status_code == 404 and response.json()["type"] == "/problems/webhook-endpoint-not-found"


# --- documentation -------------------------------------------------------------------------------

def test_every_event_is_documented_in_the_openapi_webhooks_section(client):
    from jsonschema import Draft202012Validator

    document = client.get("/openapi.json").json()
    events = document["webhooks"]
    assert set(events) == {"article.updated", "article.corrected", "article.withdrawn", "licence.amended",
                           "licence.cancelled", "webhook.test", "copy.still_live", "article.embargo_lifted"}
    for name, item in events.items():
        schema_ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
        [example] = component["examples"]
        assert example["type"] == name and "version" in example["data"] and "occurred_at" in example["data"]
        Draft202012Validator({**component, "components": document["components"]}).validate(example)
        assert "data.version" in item["post"]["description"]
