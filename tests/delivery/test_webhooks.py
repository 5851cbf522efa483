"""Webhook endpoints, fan-out of corrections and takedowns, Standard Webhooks signatures, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.core.db import session_scope, utcnow
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, make_api_key, make_partner
from tests.delivery.receivers import drain_everything_due
import api.jobs  # noqa: F401  - registers the outbox handlers
from tests.query_plans import statement_plan


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Independent Standard Webhooks check: HMAC-SHA256 over "id.timestamp.body" with the decoded secret."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == expected for sig in headers["webhook-signature"].split(" ") if sig.startswith("v1,"))


def test_endpoint_secret_is_shown_once_and_endpoints_are_private(client, session, licensed):
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers,
                          json={"url": "https://cms.outlet.example/hooks", "description": "CMS"})
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"]
    assert [e["id"] for e in listed] == [created.json()["id"]] and "secret" not in listed[0]
    other_key = make_api_key(session, make_partner(session))
    session.commit()
    assert client.get("/v1/webhook-endpoints", headers={"X-API-Key": other_key}).json()["items"] == []
    assert client.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers={"X-API-Key": other_key}).status_code == 404
    assert client.delete(f"/v1/webhook-endpoints/{created.json()['id']}", headers=licensed.key_headers).status_code == 204
    assert client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"] == []
    bad = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": "ftp://x.example/"})
    assert bad.status_code == 422


def test_correction_and_takedown_are_delivered_signed_and_retried(client, session, engine, licensed, receiver):
    hook = receiver([500, 503])  # the first two attempts fail
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url}).json()
    article = licensed.articles[0]
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Corrected", correction_note="Name spelling"),
                             actor=TEST_ACTOR)
    session.commit()
    drain_everything_due(engine)
    catalogue.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    drain_everything_due(engine)

    assert len(hook.received) == 4  # two failures, then the correction, then the takedown
    for headers, body in hook.received:
        assert _verify(created["secret"], headers, body)
        assert headers["webhook-id"].startswith("msg_") and headers["webhook-timestamp"].isdigit()
    events = [json.loads(body) for _h, body in hook.received]
    assert [e["type"] for e in events] == ["article.corrected"] * 3 + ["article.withdrawn"]
    assert events[0]["data"]["correction_note"] == "Name spelling" and events[-1]["data"]["reason"] == "Legal"
    assert len({h["webhook-id"] for h, _b in hook.received[:3]}) == 1  # retries keep the message id

    deliveries = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    by_type = {d["event_type"]: d for d in deliveries}
    assert by_type["article.corrected"]["status"] == "succeeded"
    assert [a["status_code"] for a in by_type["article.corrected"]["attempts"]] == [500, 503, 204]
    assert [a["status_code"] for a in by_type["article.withdrawn"]["attempts"]] == [204]


def test_fan_out_reaches_only_partners_concerned_and_runs_once(client, session, engine, licensed, receiver):
    ours, theirs = receiver([]), receiver([])
    client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": ours.url})
    stranger_key = make_api_key(session, make_partner(session))
    session.commit()
    client.post("/v1/webhook-endpoints", headers={"X-API-Key": stranger_key}, json={"url": theirs.url})
    catalogue.withdraw_article(session, licensed.articles[1].id, reason="Takedown", actor=TEST_ACTOR)
    session.commit()
    payload = dict(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "article.changed")).one().payload)
    session.commit()  # end the read (SQLite: every transaction takes the write lock)
    from api.delivery.webhooks import fan_out

    with session_scope(engine) as again:  # a redelivered fan-out creates nothing new
        fan_out(again, payload)
    drain_everything_due(engine)
    assert len(ours.received) == 1 and theirs.received == []


def _fail_until_dead(engine) -> int:
    """Fail every attempt the outbox makes, without waiting out the backoff; returns how many."""
    attempts = 0
    while True:
        with session_scope(engine) as session:
            due = session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending",
                                                              OutboxMessage.topic == "delivery.webhook_send")
                                  .values(next_attempt_at=utcnow())).rowcount
        if not due:
            return attempts
        outbox.drain(engine)
        attempts += 1


def test_endpoint_that_never_answers_is_retried_for_days_then_failed_and_can_be_revived(
        client, session, engine, licensed, receiver):
    from api.audit.service import Actor
    from api.delivery import webhook_send, webhooks

    hook = receiver([500] * webhooks.MAX_ATTEMPTS)
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url}).json()
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Gone", actor=TEST_ACTOR)
    session.commit()
    outbox.drain(engine, topics={"article.changed"})  # the fan-out only
    assert _fail_until_dead(engine) == webhooks.MAX_ATTEMPTS
    assert sum(webhook_send.SCHEDULE, timedelta()) > timedelta(days=3)  # Standard Webhooks: about three days
    [delivery] = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == webhooks.MAX_ATTEMPTS
    assert {a["error"] for a in delivery["attempts"]} == {"HTTP 500"}

    # The partner fixes its endpoint; an operator revives the dead message: delivered once, same id.
    [dead] = session.exec(select(OutboxMessage).where(OutboxMessage.status == "dead")).all()
    outbox.retry(session, message_id=dead.id, actor=Actor("system", "test"))
    session.commit()
    assert outbox.drain(engine) == 1 and outbox.drain(engine) == 0
    [delivery] = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    assert delivery["status"] == "succeeded" and delivery["attempts"][-1]["status_code"] == 204
    assert len(hook.received) == webhooks.MAX_ATTEMPTS + 1 and hook.received[-1][0]["webhook-id"] == delivery["id"]


def test_a_slow_partner_endpoint_does_not_hold_the_database(client, session, engine, licensed, receiver,
                                                             database_url):
    """The POST runs with no transaction open (on SQLite an open transaction holds the write lock)."""
    from api.core.db import make_engine

    hook = receiver([])
    hook.delay = 4.0
    client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url})
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Slow", actor=TEST_ACTOR)
    session.commit()
    assert outbox.drain(engine, topics={"article.changed"}) == 1
    worker = threading.Thread(target=outbox.drain, args=(engine,))
    worker.start()
    other = make_engine(database_url)
    try:
        assert hook.in_post.wait(10), "the worker never reached the endpoint"
        started = time.perf_counter()
        with session_scope(other) as s:  # another API worker writes meanwhile
            outbox.enqueue(s, "test.unrelated", {"n": 1})
        assert time.perf_counter() - started < 2.0  # the endpoint takes 4 s to answer, or until released
        assert not hook.received  # the POST was still under way during the write
    finally:
        hook.release.set()
        worker.join(20)
        other.dispose()
    assert len(hook.received) == 1


# --- where webhooks may go (SSRF) ---------------------------------------------------------------

REFUSED = {
    "loopback": "http://127.0.0.1:8080/hooks",
    "loopback by name": "http://localhost/hooks",
    "loopback, decimal": "http://2130706433/hooks",
    "loopback IPv6": "http://[::1]/hooks",
    "IPv4-mapped loopback": "http://[::ffff:127.0.0.1]/hooks",
    "private 10/8": "https://10.1.2.3/hooks",
    "private 172.16/12": "https://172.16.0.9/hooks",
    "private 192.168/16": "https://192.168.1.20/hooks",
    "unique local IPv6": "https://[fd00::1]/hooks",
    "link-local (cloud metadata)": "http://169.254.169.254/latest/meta-data/",
    "link-local IPv6": "http://[fe80::1]/hooks",
    "unspecified": "http://0.0.0.0/hooks",
    "reserved": "https://240.0.0.1/hooks",
    "shared address space": "https://100.64.0.1/hooks",
    "multicast": "https://224.0.0.1/hooks",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_webhook_urls_into_private_networks_are_refused(client, licensed, case):
    response = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": REFUSED[case]})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/bad-webhook-url" and problem["reason"] == "private-address"
    assert "public internet" in problem["detail"] and problem["address"] in problem["detail"]
    assert client.get("/v1/webhook-endpoints", headers=licensed.key_headers).json()["items"] == []


def test_a_refusal_names_the_host_and_the_kind_of_address(client, licensed):
    problem = client.post("/v1/webhook-endpoints", headers=licensed.key_headers,
                          json={"url": "http://localhost:9000/hooks"}).json()
    assert "localhost resolves to 127.0.0.1, which is a loopback address" in problem["detail"]
    problem = client.post("/v1/webhook-endpoints", headers=licensed.key_headers,
                          json={"url": "http://169.254.169.254/"}).json()
    assert "169.254.169.254 is a link-local address" in problem["detail"]


def test_public_and_not_yet_resolvable_urls_are_accepted(client, licensed):
    for url in ("https://93.184.215.14/hooks", "https://cms.outlet.example/hooks", "https://[2606:4700::1111]/h"):
        assert client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": url}).status_code == 201


def test_the_setting_allows_private_networks(client, licensed, allow_private_networks):
    for url in (REFUSED["loopback"], REFUSED["private 10/8"], REFUSED["loopback by name"]):
        assert client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": url}).status_code == 201


def test_production_requires_https(settings, monkeypatch):
    from api.delivery.errors import BadWebhookUrl
    from api.delivery.webhook_urls import check_registration

    with pytest.raises(BadWebhookUrl, match="https URLs"):
        check_registration("http://93.184.215.14/hooks", require_https=True, allow_private=False)
    check_registration("https://93.184.215.14/hooks", require_https=True, allow_private=False)
    with pytest.raises(BadWebhookUrl, match="user name or password"):
        check_registration("https://user:pw@93.184.215.14/hooks", require_https=True, allow_private=False)


def test_the_address_is_checked_again_before_every_send(client, session, engine, licensed, receiver, settings,
                                                         monkeypatch):
    """Registered while allowed (think: a name that resolved to a public address then); by send time
    it leads into a private network: nothing is sent, and the attempt says why."""
    hook = receiver([])
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers,
                          json={"url": hook.url.replace("127.0.0.1", "localhost")}).json()
    monkeypatch.setattr(settings, "webhook_allow_private_networks", False)
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Gone", actor=TEST_ACTOR)
    session.commit()
    drain_everything_due(engine, passes=3)  # fewer than the attempts allowed: still pending
    assert hook.received == []
    [delivery] = client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=licensed.key_headers).json()["items"]
    assert delivery["status"] == "pending" and delivery["attempts"]
    assert "localhost resolves to 127.0.0.1, which is a loopback address" in delivery["attempts"][0]["error"]

    monkeypatch.setattr(settings, "webhook_allow_private_networks", True)
    drain_everything_due(engine)
    assert len(hook.received) == 1
    assert hook.received[0][0]["host"] == f"localhost:{hook.server.server_address[1]}"  # pinned, but named


# --- who is told (fan-out) ----------------------------------------------------------------------

def test_fan_out_finds_licence_holders_and_readers_in_sql(session):
    from api.delivery.webhooks import _licensees
    from api.licensing.states import LicenceState
    from tests.builders import make_article, make_licence
    from tests.reports.data import add_usage

    news, culture = make_article(session, section="news"), make_article(session, section="culture")
    partners = {name: make_partner(session) for name in
                ("bundle", "other bundle", "news feed", "culture feed", "catalogue", "expired catalogue", "reader")}
    make_licence(session, partner=partners["bundle"], articles=[news, culture], scope="bundle")
    other = make_licence(session, partner=partners["other bundle"], articles=[culture], scope="article")
    make_licence(session, partner=partners["news feed"], scope="section_feed", section="news")
    make_licence(session, partner=partners["culture feed"], scope="section_feed", section="culture")
    make_licence(session, partner=partners["catalogue"], scope="catalogue")
    expired = make_licence(session, partner=partners["expired catalogue"], scope="catalogue")
    expired.state = LicenceState.expired
    session.add(expired)
    read = make_licence(session, partner=partners["reader"], articles=[news], scope="article")
    read.state = LicenceState.revoked  # no longer current, but it fetched the article: tell it of a takedown
    session.add(read)
    add_usage(session, read, news, at=utcnow(), billable=True)
    add_usage(session, read, news, at=utcnow())  # a later fetch
    add_usage(session, other, culture, at=utcnow(), billable=True)
    session.flush()

    told = {name for name, p in partners.items() if p.id in _licensees(session, news.id)}
    assert told == {"bundle", "news feed", "catalogue", "reader"}
    told = {name for name, p in partners.items() if p.id in _licensees(session, culture.id)}
    assert told == {"bundle", "other bundle", "culture feed", "catalogue"}
    session.rollback()


def test_fan_out_queries_use_indexes_not_scans(session):
    """Neither query reads all usage or every licence: readers come from the republications' index,
    holders from the licence state index."""
    from api.delivery.webhooks import licence_holders_statement, readers_statement

    readers = statement_plan(session, readers_statement("art_x"))
    assert "ix_republication_article_partner" in readers, readers
    holders = statement_plan(session, licence_holders_statement(session, "art_x", "news"))
    assert "ix_licence_state" in holders and "SCAN licence" not in holders, holders  # either state index
    assert "SCAN licence" not in holders and "Seq Scan on licence" not in holders, holders
    session.rollback()


def test_an_amendment_is_announced_to_the_licensee_as_a_signed_licence_amended_webhook(
        client, session, engine, licensed, receiver):
    from api.licensing import amendments

    hook = receiver([])
    created = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": hook.url}).json()
    amendment = amendments.amend(session, licensed.licence.id, changes={"territories": ["GB", "IE"]},
                                 reason="Irish edition", actor=TEST_ACTOR)
    session.commit()
    drain_everything_due(engine)
    [(headers, body)] = hook.received
    assert _verify(created["secret"], headers, body)
    event = json.loads(body)
    assert event["type"] == "licence.amended"
    from api.delivery.schemas import LicenceAmendedEvent

    documented = LicenceAmendedEvent.model_validate(event)  # the payload is the one the contract documents
    assert documented.data.version == 1 and documented.data.occurred_at is not None
    assert event["data"]["amendment_id"] == amendment.id and event["data"]["reason"] == "Irish edition"
    assert event["data"]["before"] == {"territories": ["GB"]} and event["data"]["after"] == {"territories": ["GB", "IE"]}
