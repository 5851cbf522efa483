"""Copies still live after a kill: real beacons over HTTP after a takedown, revocation or expiry
open one case; the partner gets one e-mail (a real SMTP server) and one signed `copy.still_live`
webhook (verified with the Standard Webhooks library), again daily while the page is seen; the
case closes itself when the page goes quiet, or staff close it with a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

import api.jobs  # noqa: F401 - registers the outbox handlers and periodic jobs
from api.core.config import configure_worker
from api.audit.models import AuditEntry
from api.catalogue import service as catalogue
from api.delivery import routes as delivery_routes
from api.licensing import licences as licensing
from api.tracking import still_live
from api.tracking.models import StillLiveCase
from api.worker import registered_jobs
from tests.builders import TEST_ACTOR, staff_headers
from tests.delivery.conftest import mint
from tests.tracking.conftest import flush_beacons
from tests.delivery.receivers import drain_everything_due
from tests.live_server import served
from tests.partners.test_notifications import smtp_server  # noqa: F401 - the real SMTP server fixture

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PAGE = "https://outlet.example/news/story"


@pytest.fixture
def clock(monkeypatch):
    state = {"now": datetime.now(UTC).replace(microsecond=0)}
    monkeypatch.setattr(delivery_routes, "utcnow", lambda: state["now"])
    return state


@pytest.fixture
def beacon_path(client, licensed):
    token = mint(client, licensed)["token"]
    body = client.get(f"/v1/content/articles/{licensed.articles[0].id}",
                      headers={"Authorization": f"Bearer {token}"}).json()
    return body["attribution"]["beacon_url"].removeprefix("https://syndicate.test")


@pytest.fixture
def hook(client, licensed, receiver):
    endpoint = receiver([])
    answer = client.post("/v1/webhook-endpoints", headers=licensed.key_headers, json={"url": endpoint.url})
    assert answer.status_code == 201, answer.text
    endpoint.secret = answer.json()["secret"]
    return endpoint


@pytest.fixture
def mail(smtp_server, settings):  # noqa: F811 - the fixture imported above
    """The SMTP server, with a `drain` that sends through it with the app's settings (another app built
    meanwhile, the served one, configures the worker with its own)."""

    def drain(engine) -> None:
        configure_worker(settings.model_copy(update={"email_sender": "smtp", "smtp_host": "127.0.0.1",
                                                     "smtp_port": smtp_server.port, "smtp_timeout_seconds": 5}))
        drain_everything_due(engine)

    smtp_server.drain = drain
    return smtp_server


def _still_live_events(hook) -> list[dict]:
    """The `copy.still_live` deliveries, each verified as Standard Webhooks requires."""
    verified = [Webhook(hook.secret).verify(body, headers) for headers, body in hook.received]
    return [event for event in verified if event["type"] == "copy.still_live"]


def _cases(session) -> list[StillLiveCase]:
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()  # a fresh snapshot: the server committed in its own transaction
    return list(session.exec(select(StillLiveCase).order_by(StillLiveCase.id)).all())


def _still_live_mail(smtp) -> list:
    return [m for _, m in smtp.inbox.messages if m["Subject"].startswith("Still live")]


def _takedown(session, licensed) -> None:
    catalogue.withdraw_article(session, licensed.articles[0].id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()


def test_a_takedown_then_sightings_open_one_case_one_email_and_one_signed_webhook(
        app, client, session, engine, licensed, beacon_path, hook, mail, clock):
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})  # before the kill: no case
        assert _cases(session) == []
        _takedown(session, licensed)
        clock["now"] += timedelta(minutes=40)  # past the first view's 30-minute window
        for agent, referer in [(CHROME, PAGE + "?utm_source=x"), (FIREFOX, PAGE + "#top"), (CHROME, PAGE)]:
            assert http.get(beacon_path, headers={"User-Agent": agent, "Referer": referer}).status_code == 200
    mail.drain(engine)

    [case] = _cases(session)
    assert (case.page_url, case.reason, case.partner_id, case.closed_at) == (
        PAGE, "article_withdrawn", licensed.partner.id, None)
    assert (case.hits, case.views, case.notifications) == (3, 2, 1)  # the Chrome reload within 30 minutes is no view
    [message] = _still_live_mail(mail)
    assert PAGE in message.get_content() and "the article was withdrawn" in message.get_content()
    [event] = _still_live_events(hook)
    assert event["data"]["page_url"] == PAGE and event["data"]["reason"] == "article_withdrawn"
    assert event["data"]["case_id"] == case.id and event["data"]["version"] == 1
    assert event["data"]["views_since_kill"] == 1  # as it stood when the case opened

    # Draining again sends nothing more: the notices are keyed by case and notice number.
    mail.drain(engine)
    assert len(_still_live_mail(mail)) == 1 and len(_still_live_events(hook)) == 1


def test_the_partner_is_told_again_daily_while_the_copy_is_seen(
        app, client, session, engine, licensed, beacon_path, hook, mail, clock):
    _takedown(session, licensed)
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
        opened = clock["now"]
        assert still_live.renotify_due(session, now=opened + timedelta(days=2)) == 0  # not seen since the notice
        flush_beacons()  # the buffered hits, counted as the flusher would
        session.rollback()
        clock["now"] = opened + timedelta(hours=30)
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    assert still_live.renotify_due(session, now=opened + timedelta(hours=23)) == 0  # not a day yet
    assert still_live.renotify_due(session, now=opened + timedelta(hours=31)) == 1
    session.commit()
    assert still_live.renotify_due(session, now=opened + timedelta(hours=32)) == 0  # told today already
    session.commit()
    mail.drain(engine)
    assert sorted(e["data"]["version"] for e in _still_live_events(hook)) == [1, 2]
    assert sorted(m["Subject"].endswith("(notice 2)") for m in _still_live_mail(mail)) == [False, True]
    assert "still_live.follow_up" in registered_jobs()


def test_a_case_closes_itself_when_sightings_stop(app, session, licensed, beacon_path, clock):
    _takedown(session, licensed)
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    [case] = _cases(session)
    quiet = timedelta(days=7)
    assert still_live.close_quiet(session, quiet_for=quiet, now=case.last_seen_at + quiet - timedelta(minutes=1)) == 0
    assert still_live.close_quiet(session, quiet_for=quiet, now=case.last_seen_at + quiet) == 1
    session.commit()
    [case] = _cases(session)
    assert case.closed_by == "system" and case.close_note == "Not seen for 7 days."
    # A sighting after it closed opens a new case.
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    assert [c.closed_at is None for c in _cases(session)] == [False, True]


@pytest.mark.parametrize("kill", ["revoked", "expired"])
def test_a_revoked_or_ended_licence_opens_a_case_naming_why(app, session, licensed, beacon_path, clock, kill):
    if kill == "revoked":
        licensing.revoke(session, licensed.licence.id, reason="Breach of terms", actor=TEST_ACTOR)
    else:  # the beacon's clock passes the licence's end before the expiry job has run
        clock["now"] = licensed.licence.ends_at + timedelta(minutes=1)
    session.commit()
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    [case] = _cases(session)
    assert case.reason == f"licence_{kill}"


def test_staff_list_cases_and_close_one_with_a_note(app, client, session, licensed, beacon_path, clock):
    _takedown(session, licensed)
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
        http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": "https://other.example/copy"})
    headers = staff_headers(client, session, roles=["licensing"])
    listed = client.get("/v1/staff/still-live", headers=headers).json()["items"]
    assert sorted(c["page_url"] for c in listed) == ["https://other.example/copy", PAGE]
    assert {(c["partner_id"], c["reason"], c["views_since_kill"], c["status"]) for c in listed} == {
        (licensed.partner.id, "article_withdrawn", 1, "open")}
    case_id = next(c["id"] for c in listed if c["page_url"] == PAGE)

    refused = client.post(f"/v1/staff/still-live/{case_id}/close", headers=headers, json={"note": ""})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    closed = client.post(f"/v1/staff/still-live/{case_id}/close", headers=headers, json={"note": "Removed, per phone call"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["close_note"]) == ("closed", "Removed, per phone call")
    again = client.post(f"/v1/staff/still-live/{case_id}/close", headers=headers, json={"note": "again"})
    assert again.status_code == 409 and again.json()["type"].endswith("/still-live-case-closed")
    assert client.post("/v1/staff/still-live/slc_nope/close", headers=headers, json={"note": "x"}).status_code == 404
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "still_live.closed")).all()
    assert entry.object_id == case_id and entry.actor_type == "staff" and entry.after["note"] == "Removed, per phone call"
    assert [c["page_url"] for c in client.get("/v1/staff/still-live", headers=headers).json()["items"]] == [
        "https://other.example/copy"]
    assert [c["id"] for c in client.get("/v1/staff/still-live?status=closed", headers=headers).json()["items"]] == [case_id]
    # The partner sees its own cases too.
    mine = client.get("/v1/still-live?status=all", headers=licensed.key_headers).json()["items"]
    assert len(mine) == 2


def test_the_follow_up_job_closes_after_the_configured_quiet_period(session, engine, licensed, monkeypatch):
    from datetime import UTC, datetime as real_datetime

    from api.core import config
    from api.tracking import jobs, service as tracking
    from tests.conftest import make_settings as settings_for

    _takedown(session, licensed)
    seen = real_datetime.now(UTC) - timedelta(days=8)
    counted = tracking.record_sighting(session, licence_id=licensed.licence.id, article_id=licensed.articles[0].id,
                                       page_url=PAGE, viewer="v", now=seen)
    case = still_live.note_sighting(session, licence_id=licensed.licence.id, article_id=licensed.articles[0].id,
                                    page_url=PAGE, kill=still_live.Kill("article_withdrawn"), view=counted.view, now=seen)
    session.commit()
    url = str(engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr(config, "get_settings", lambda: settings_for(url, still_live_quiet_days=10))
    jobs.follow_up_still_live(engine)
    assert [c.closed_at for c in _cases(session)] == [None]  # quiet 8 days of 10
    monkeypatch.setattr(config, "get_settings", lambda: settings_for(url, still_live_quiet_days=7))
    assert jobs.follow_up_still_live(engine) == 1
    [closed] = _cases(session)
    assert closed.id == case.id and closed.closed_by == "system" and closed.close_note == "Not seen for 7 days."


def test_a_beacons_kill_is_read_from_the_runtimes_views_loaded_once(app, session, licensed):
    """`delivery.copy_kill`: a cache miss loads and stores the licence and article views; the next
    hit reads them with no query; an unknown article is no kill."""
    from sqlalchemy import event

    from api.core.db import utcnow
    from api.delivery import service as delivery

    runtime = app.state.delivery
    runtime.licences.invalidate()
    runtime.articles.invalidate()
    article = licensed.articles[0]
    catalogue.withdraw_article(session, article.id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()
    kill = delivery.copy_kill(session, runtime, licence_id=licensed.licence.id, article_id=article.id, now=utcnow())
    assert kill is not None and kill.reason == "article_withdrawn"
    assert runtime.licences.get(licensed.licence.id) is not None and runtime.articles.get(article.id) is not None
    statements: list[str] = []
    record = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(app.state.engine, "before_cursor_execute", record)
    try:
        again = delivery.copy_kill(session, runtime, licence_id=licensed.licence.id, article_id=article.id, now=utcnow())
    finally:
        event.remove(app.state.engine, "before_cursor_execute", record)
    assert again == kill and statements == []
    assert delivery.copy_kill(session, runtime, licence_id=licensed.licence.id, article_id="art_missing",
                              now=utcnow()) is None
