"""The beacon over real HTTP: bots, prefetches and reloads are hits but not views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from api.delivery import routes as delivery_routes
from api.tracking.models import BeaconDayKey, BeaconSighting, BeaconSightingDay, BeaconViewer
from tests.delivery.conftest import mint
from tests.tracking.conftest import flush_beacons
from tests.live_server import served

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
BOTS = [
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) "
    "Chrome/131.0.6778.139 Safari/537.36",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]
PAGE = "https://outlet.example/story"


@pytest.fixture
def clock(monkeypatch):
    """The beacon's notion of now, moved by the test instead of sleeping."""
    state = {"now": datetime(2026, 12, 2, 9, 0, tzinfo=UTC)}
    monkeypatch.setattr(delivery_routes, "utcnow", lambda: state["now"])
    return state


@pytest.fixture
def live(app, licensed):
    """The app under uvicorn, and a client of it. Everything goes over this one server: a TestClient
    beside it would start the app's lifespan (the delivery runtime) a second time, and stopping
    the server would then wait out the runtime's shutdown timeout."""
    with served(app) as url, httpx.Client(base_url=url) as http:
        yield http


@pytest.fixture
def beacon_path(live, licensed):
    token = mint(live, licensed)["token"]
    body = live.get(f"/v1/content/articles/{licensed.articles[0].id}",
                    headers={"Authorization": f"Bearer {token}"}).json()
    return body["attribution"]["beacon_url"].removeprefix("https://syndicate.test")


def _sighting(session) -> BeaconSighting:
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()  # a fresh snapshot: the server committed in its own transaction
    [sighting] = session.exec(select(BeaconSighting)).all()
    return sighting


def test_people_count_bots_and_prefetches_do_not_and_nothing_is_cacheable(live, session, beacon_path, clock):
    answers = [live.get(beacon_path, headers={"User-Agent": agent, "Referer": PAGE, "Sec-Fetch-Dest": "image"})
               for agent in [CHROME, FIREFOX, *BOTS]]
    answers += [live.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE, **prefetch})
                for prefetch in [{"Sec-Purpose": "prefetch"}, {"Purpose": "prefetch"}, {"X-Moz": "prefetch"},
                                 {"Sec-Purpose": "prefetch;prerender"}, {"Sec-Fetch-Dest": "document"}]]
    answers.append(live.get(beacon_path, headers={"Referer": PAGE}))  # no agent at all
    assert all(a.status_code == 200 and a.headers["content-type"] == "image/gif" for a in answers)
    assert all("no-store" in a.headers["cache-control"] for a in answers)
    sighting = _sighting(session)
    assert (sighting.page_url, sighting.hits, sighting.views) == (PAGE, 12, 2)


def test_reloads_within_30_minutes_count_once_and_again_after(live, session, beacon_path, clock):
    start = clock["now"]
    headers = {"User-Agent": CHROME, "Referer": PAGE}
    for minutes in (0, 1, 29):
        clock["now"] = start + timedelta(minutes=minutes)
        live.get(beacon_path, headers=headers)
    assert (_sighting(session).hits, _sighting(session).views) == (3, 1)
    clock["now"] = start + timedelta(minutes=31)  # the window is counted from the last counted view
    live.get(beacon_path, headers=headers)
    live.get(beacon_path, headers={**headers, "User-Agent": FIREFOX})  # another viewer
    sighting = _sighting(session)
    assert (sighting.hits, sighting.views) == (5, 3)
    assert sighting.last_seen_at == start + timedelta(minutes=31)


def test_no_address_or_agent_is_stored(live, session, beacon_path, clock):
    live.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()  # a fresh snapshot: the server committed in its own transaction
    [viewer] = session.exec(select(BeaconViewer)).all()
    stored = repr(viewer) + repr(_sighting(session))
    assert "127.0.0.1" not in stored and "Chrome" not in stored and len(viewer.key) == 64




def test_spent_viewer_rows_are_pruned_and_the_job_is_registered(live, session, beacon_path, clock):
    from api.tracking import service
    from api.worker import registered_jobs
    assert "beacon_viewers.prune" in registered_jobs()
    live.get(beacon_path, headers={"User-Agent": CHROME, "Referer": PAGE})
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()
    assert service.prune(session, now=clock["now"] + timedelta(minutes=29)) == 0
    assert service.prune(session, now=clock["now"] + timedelta(minutes=31)) == 1
    session.commit()
    assert session.exec(select(BeaconViewer)).all() == []


def test_tagged_and_fragment_spellings_of_one_page_are_one_sighting(app, session, beacon_path, clock):
    with served(app) as url, httpx.Client(base_url=url) as http:
        for referer in (PAGE, PAGE + "/?utm_source=newsletter#top", "HTTPS://OUTLET.example:443/story?fbclid=x"):
            http.get(beacon_path, headers={"User-Agent": CHROME, "Referer": referer})
        http.get(beacon_path, params={"url": PAGE + "?gclid=1"}, headers={"User-Agent": FIREFOX})
    sighting = _sighting(session)
    assert (sighting.page_url, sighting.hits, sighting.views) == (PAGE, 4, 2)


def test_counts_are_kept_per_day_with_first_and_last_seen(app, session, beacon_path, clock):
    start = clock["now"]
    headers = {"User-Agent": CHROME, "Referer": PAGE}
    with served(app) as url, httpx.Client(base_url=url) as http:
        for at in (start, start + timedelta(hours=5), start + timedelta(days=1, hours=2)):
            clock["now"] = at
            http.get(beacon_path, headers=headers)
            http.get(beacon_path, headers={**headers, "User-Agent": BOTS[0]})
    sighting = _sighting(session)
    days = session.exec(select(BeaconSightingDay).order_by(BeaconSightingDay.day)).all()
    assert [(d.day.isoformat(), d.hits, d.views, d.first_seen_at, d.last_seen_at) for d in days] == [
        ("2026-12-02", 4, 2, start, start + timedelta(hours=5)),
        ("2026-12-03", 2, 1, start + timedelta(days=1, hours=2), start + timedelta(days=1, hours=2))]
    assert (sighting.hits, sighting.views, sighting.first_seen_at, sighting.last_seen_at) == (
        6, 3, start, start + timedelta(days=1, hours=2))


def test_the_viewer_key_is_random_per_day_and_deleted_after_it(app, session, beacon_path, clock):
    from api.tracking import service
    headers = {"User-Agent": CHROME, "Referer": PAGE}
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers=headers)
        clock["now"] += timedelta(days=1)
        http.get(beacon_path, headers=headers)
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()
    keys = {k.day.isoformat(): k.key for k in session.exec(select(BeaconDayKey)).all()}
    assert sorted(keys) == ["2026-12-02", "2026-12-03"] and len(set(keys.values())) == 2
    # Nothing the server holds derives the key: a new day's key is random, not a function of the date.
    assert all(len(bytes.fromhex(k)) == 32 for k in keys.values())
    service.prune(session, now=clock["now"])
    session.commit()
    assert [k.day.isoformat() for k in session.exec(select(BeaconDayKey)).all()] == ["2026-12-03"]


def test_bots_make_no_day_key(app, session, beacon_path, clock):
    with served(app) as url, httpx.Client(base_url=url) as http:
        http.get(beacon_path, headers={"User-Agent": BOTS[1], "Referer": PAGE})
    flush_beacons()  # the buffered hits, counted as the flusher would
    session.rollback()
    assert session.exec(select(BeaconDayKey)).all() == []
