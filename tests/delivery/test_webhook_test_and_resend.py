"""A `webhook.test` ping to one endpoint and a re-send of one delivery, both through the normal signed
delivery path: what arrives verifies with the endpoint's secret, a re-send keeps its
`webhook-id`, and nothing is sent to a disabled endpoint or for another partner."""

from __future__ import annotations

from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

import api.jobs  # noqa: F401  - registers the outbox handlers
from api.core.db import session_scope, utcnow
from api.delivery.models import WebhookEndpoint
from tests.builders import make_api_key, make_partner
from tests.delivery.receivers import drain_everything_due
from tests.delivery.test_webhook_delivery import _deliveries, _register


def test_a_test_event_is_signed_and_sent_to_that_endpoint_only(client, session, engine, licensed, receiver):
    hook, other_hook = receiver([]), receiver([])
    endpoint = _register(client, licensed, hook.url)
    _register(client, licensed, other_hook.url)
    queued = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=licensed.key_headers)
    assert queued.status_code == 202, queued.text
    assert queued.json()["event_type"] == "webhook.test" and queued.json()["status"] == "pending"
    drain_everything_due(engine)
    [(headers, body)] = hook.received
    event = Webhook(endpoint["secret"]).verify(body, headers)
    assert event["type"] == "webhook.test" and event["data"]["endpoint_id"] == endpoint["id"]
    assert other_hook.received == []
    again = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=licensed.key_headers)
    assert again.json()["id"] != queued.json()["id"]  # every ping is its own delivery
    drain_everything_due(engine)
    assert len(hook.received) == 2
    assert [d.status for d in _deliveries(engine, endpoint["id"])] == ["succeeded", "succeeded"]


def test_a_delivery_is_sent_again_with_the_same_id_and_its_attempts_kept(client, session, engine, licensed, receiver):
    hook = receiver([])
    endpoint = _register(client, licensed, hook.url)
    delivery_id = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=licensed.key_headers).json()["id"]
    resend = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery_id}/resend"
    busy = client.post(resend, headers=licensed.key_headers)  # not yet tried
    assert busy.status_code == 409 and busy.json()["type"] == "/problems/webhook-delivery-in-progress"
    drain_everything_due(engine)
    resent = client.post(resend, headers=licensed.key_headers)
    assert resent.status_code == 202 and resent.json()["status"] == "pending" and len(resent.json()["attempts"]) == 1
    drain_everything_due(engine)
    first, second = hook.received
    assert first[0]["webhook-id"] == second[0]["webhook-id"] == delivery_id
    Webhook(endpoint["secret"]).verify(second[1], second[0])
    [delivery] = _deliveries(engine, endpoint["id"])
    assert delivery.status == "succeeded" and len(delivery.attempts) == 2


def test_nothing_is_sent_to_a_disabled_or_someone_elses_endpoint(client, session, engine, licensed, receiver):
    hook = receiver([])
    endpoint = _register(client, licensed, hook.url)
    delivery_id = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=licensed.key_headers).json()["id"]
    drain_everything_due(engine)
    other = make_api_key(session, make_partner(session))
    session.commit()
    for path in ("test", f"deliveries/{delivery_id}/resend"):
        foreign = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/{path}", headers={"X-API-Key": other})
        assert foreign.status_code == 404 and foreign.json()["type"] == "/problems/webhook-endpoint-not-found"
    unknown = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/msg_nope/resend",
                          headers=licensed.key_headers)
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/webhook-delivery-not-found"
    with session_scope(engine) as s:
        s.execute(update(WebhookEndpoint).values(disabled_at=utcnow(), disabled_reason="The endpoint answered 410 Gone."))
    for path in ("test", f"deliveries/{delivery_id}/resend"):
        refused = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/{path}", headers=licensed.key_headers)
        assert refused.status_code == 409 and refused.json()["type"] == "/problems/webhook-endpoint-disabled"
    drain_everything_due(engine)
    assert len(hook.received) == 1 and len(_deliveries(engine, endpoint["id"])) == 1
