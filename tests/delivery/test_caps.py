"""Caps on live articles ("2 articles at a time"): part of the form, the quote and the licence; enforced
at the delivery boundary; a retired copy frees its slot."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from api.catalogue import service as catalogue
from api.delivery import caps
from api.delivery.errors import LiveCapReached
from api.delivery.snapshots import load_licence
from api.licensing import decisions
from tests.builders import (
    TEST_ACTOR,
    make_api_key,
    make_article,
    make_licence,
    make_partner,
    staff_headers,
)
from tests.delivery.conftest import bearer


def _capped_licence(client, session, *, cap: int | None, articles: int = 3, monthly_quota: int | None = None):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    found = [make_article(session) for _ in range(articles)]
    session.commit()
    keys = {"X-API-Key": api_key}
    terms = {"scope": "bundle", "article_ids": [a.id for a in found], "use": "web", "territories": ["GB"],
             "period_months": 1, "audience_size": 5000, **({"max_live_articles": cap} if cap else {})}
    quote = client.post("/v1/quotes", headers=keys, json=terms)
    assert quote.status_code == 200, quote.text
    assert quote.json()["max_live_articles"] == cap
    submitted = client.post("/v1/licence-requests", headers=keys, json=terms)
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["max_live_articles"] == cap
    _request, licence = decisions.approve(session, submitted.json()["id"], actor=TEST_ACTOR, amount=0,
                                          monthly_quota=monthly_quota)
    session.commit()
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers=keys).json()["token"]
    return keys, licence, found, bearer(token)


def test_the_cap_is_a_field_of_the_form_and_refuses_a_bad_value(client):
    form = client.get("/v1/licence-requests/form").json()
    field = next(f for f in form["fields"] if f["name"] == "max_live_articles")
    assert field["type"] == "integer" and field["minimum"] == 1 and field["required"] is False
    bad = client.post("/v1/quotes", json={"scope": "catalogue", "use": "web", "territories": ["GB"],
                                          "period_months": 1, "audience_size": 5000, "max_live_articles": 0})
    assert bad.status_code == 422 and "max_live_articles" in bad.text


def test_a_new_article_beyond_the_cap_is_refused_until_a_copy_is_retired(client, session):
    keys, licence, (first, second, third), token = _capped_licence(client, session, cap=2)
    assert client.get(f"/v1/licences/{licence.id}", headers=keys).json()["max_live_articles"] == 2
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200
    assert client.get(f"/v1/content/articles/{second.id}", headers=token).status_code == 200
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200  # a re-fetch: no new slot

    refused = client.get(f"/v1/content/articles/{third.id}", headers=token)
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "/problems/live-article-cap-reached" and problem["max_live_articles"] == 2
    assert sorted(problem["live_articles"]) == sorted([first.id, second.id])
    assert "2 articles live at a time" in problem["detail"] and f"/v1/licences/{licence.id}/copies/" in problem["detail"]
    [standing] = client.get("/v1/partners/me/entitlements", headers=keys).json()["items"]
    assert standing["cap"] == {"max_live_articles": 2, "live": 2, "left": 0}

    retired = client.post(f"/v1/licences/{licence.id}/copies/{first.id}/retire", headers=keys)
    assert retired.status_code == 200, retired.text
    assert retired.json()["cap"] == {"max_live_articles": 2, "live": 1, "left": 1}
    again = client.post(f"/v1/licences/{licence.id}/copies/{first.id}/retire", headers=keys)
    assert again.json()["retired_at"] == retired.json()["retired_at"]  # nothing changes the second time
    entries = session.exec(select(AuditEntry).where(AuditEntry.action == "licence.copy_retired",
                                                    AuditEntry.object_id == licence.id)).all()
    assert len(entries) == 1 and entries[0].after["article_id"] == first.id and entries[0].actor_type == "partner"

    assert client.get(f"/v1/content/articles/{third.id}", headers=token).status_code == 200  # the freed slot
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 409  # retired: needs a slot
    [standing] = client.get("/v1/partners/me/entitlements", headers=keys).json()["items"]
    assert {a["article_id"] for a in standing["live_articles"]} == {second.id, third.id}


def test_a_past_version_of_a_new_article_needs_a_slot_too(client, session):
    _keys, _licence, (first, second, _third), token = _capped_licence(client, session, cap=1)
    assert client.get(f"/v1/content/articles/{first.id}/versions/1", headers=token).status_code == 200
    refused = client.get(f"/v1/content/articles/{second.id}/versions/1", headers=token)
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/live-article-cap-reached"


def test_a_refusal_by_the_quota_takes_no_slot_and_one_by_the_cap_takes_no_quota(client, session):
    keys, licence, (first, second, third), token = _capped_licence(client, session, cap=2, monthly_quota=2)
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200  # 1 of 2 this month
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200  # 2 of 2
    assert client.get(f"/v1/content/articles/{second.id}", headers=token).status_code == 429
    [standing] = client.get("/v1/partners/me/entitlements", headers=keys).json()["items"]
    assert standing["cap"] == {"max_live_articles": 2, "live": 1, "left": 1}  # the refused copy holds no slot

    keys, licence, (first, second, third), token = _capped_licence(client, session, cap=1, monthly_quota=3)
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200  # 1 of 3
    assert client.get(f"/v1/content/articles/{second.id}", headers=token).status_code == 409  # the cap: quota given back
    again = client.get(f"/v1/content/articles/{first.id}", headers=token)
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "1"  # 2 of 3, not 3 of 3


def test_a_withdrawn_article_gives_its_slot_back(client, session):
    _keys, _licence, (first, second, _third), token = _capped_licence(client, session, cap=1)
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200
    assert client.get(f"/v1/content/articles/{second.id}", headers=token).status_code == 409
    catalogue.withdraw_article(session, first.id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    assert client.get(f"/v1/content/articles/{second.id}", headers=token).status_code == 200


def test_retiring_needs_a_delivered_copy_of_ones_own_licence(client, session):
    keys, licence, (first, second, _third), token = _capped_licence(client, session, cap=2)
    never = client.post(f"/v1/licences/{licence.id}/copies/{second.id}/retire", headers=keys)
    assert never.status_code == 404 and never.json()["type"] == "/problems/copy-not-found"
    stranger = {"X-API-Key": make_api_key(session, make_partner(session))}
    session.commit()
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200
    foreign = client.post(f"/v1/licences/{licence.id}/copies/{first.id}/retire", headers=stranger)
    assert foreign.status_code == 404 and foreign.json()["type"] == "/problems/licence-not-found"


def test_a_licence_without_a_cap_lists_retired_copies_as_not_live(client, session):
    keys, licence, (first, second, _third), token = _capped_licence(client, session, cap=None)
    for article in (first, second):
        assert client.get(f"/v1/content/articles/{article.id}", headers=token).status_code == 200
    assert client.post(f"/v1/licences/{licence.id}/copies/{first.id}/retire", headers=keys).status_code == 200
    [standing] = client.get("/v1/partners/me/entitlements", headers=keys).json()["items"]
    assert standing["cap"] == {"max_live_articles": None, "live": 1, "left": None}
    assert [a["article_id"] for a in standing["live_articles"]] == [second.id]
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200  # live again
    [standing] = client.get("/v1/partners/me/entitlements", headers=keys).json()["items"]
    assert standing["cap"]["live"] == 2


def test_an_amendment_that_adds_a_cap_counts_the_copies_already_live(client, session):
    _keys, licence, (first, second, third), token = _capped_licence(client, session, cap=None)
    for article in (first, second):
        assert client.get(f"/v1/content/articles/{article.id}", headers=token).status_code == 200
    staff = staff_headers(client, session, roles=["licensing"])
    amended = client.post(f"/v1/staff/licences/{licence.id}/amendments", headers=staff,
                          json={"max_live_articles": 2, "reason": "Two at a time, as agreed."})
    assert amended.status_code == 201, amended.text
    assert amended.json()["after"] == {"max_live_articles": 2}
    assert client.get(f"/v1/content/articles/{third.id}", headers=token).status_code == 409
    assert client.get(f"/v1/content/articles/{first.id}", headers=token).status_code == 200
    lifted = client.post(f"/v1/staff/licences/{licence.id}/amendments", headers=staff,
                         json={"max_live_articles": None, "reason": "Cap lifted."})
    assert lifted.status_code == 201, lifted.text
    assert client.get(f"/v1/content/articles/{third.id}", headers=token).status_code == 200


def test_an_atom_page_whose_new_articles_would_pass_the_cap_is_refused_whole(client, session):
    keys, _licence, _articles, token = _capped_licence(client, session, cap=2)
    refused = client.get("/v1/content/feed", headers=token, params={"format": "atom"})
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/live-article-cap-reached"
    assert client.get("/v1/usage", headers=keys).json()["items"] == []  # nothing was metered
    page = client.get("/v1/content/feed", headers=token, params={"format": "atom", "limit": 2})
    assert page.status_code == 200


def test_two_deliveries_racing_for_the_last_slot_admit_one(app, session):
    partner = make_partner(session)
    articles = [make_article(session) for _ in range(3)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle", max_live_articles=2)
    caps.admit(session, licence.id, [articles[0].id], cap=2)
    session.commit()
    engine = app.state.delivery.engine  # the content path's own (on SQLite, transactions begin IMMEDIATE)
    view = load_licence(session, licence.id)
    session.commit()  # SQLite: this session's transaction holds the write lock
    barrier, outcomes = threading.Barrier(2), []

    def deliver(article_id: str) -> None:
        barrier.wait()
        try:
            caps.admit_in_own_session(engine, view, [article_id])
            outcomes.append("admitted")
        except LiveCapReached:
            outcomes.append("refused")

    threads = [threading.Thread(target=deliver, args=(a.id,)) for a in articles[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["admitted", "refused"]
    session.expire_all()
    assert len(caps.live_articles(session, licence)) == 2


@pytest.fixture(autouse=True)
def _fresh_caches(app):
    """Licence views cache which articles were admitted; each test starts from what the database says."""
    app.state.delivery.clear()
    yield


def test_live_copies_and_retiring_outlast_the_raw_usage_log(engine, session):
    """Retention prunes the raw events of old deliveries; the copies they made are still live (read
    from the republications and the daily rollup) and can still be retired."""
    from datetime import timedelta

    from api.core.db import utcnow
    from api.delivery import usage_log
    from api.delivery.models import UsageEvent
    from api.invoicing import usage_retention

    partner = make_partner(session)
    first, second, third = (make_article(session) for _ in range(3))
    licence = make_licence(session, partner=partner, articles=[first, second, third], scope="bundle")  # free, no cap
    long_ago = utcnow() - timedelta(days=500)
    for article in (first, second, third):
        usage_log.add_event(session, licence_id=licence.id, partner_id=partner.id, article_id=article.id, at=long_ago)
    caps.retire(session, licence_id=licence.id, article_id=third.id, partner_id=partner.id, actor=TEST_ACTOR,
                now=long_ago + timedelta(hours=1))
    session.commit()

    assert usage_retention.prune_usage_events(engine, retention_days=400) == 3
    session.rollback()
    assert session.exec(select(UsageEvent).where(UsageEvent.licence_id == licence.id)).first() is None

    assert sorted(a.article_id for a in caps.live_articles(session, licence)) == sorted([first.id, second.id])
    retired = caps.retire(session, licence_id=licence.id, article_id=first.id, partner_id=partner.id, actor=TEST_ACTOR)
    assert retired.retired_at is not None
    again = caps.retire(session, licence_id=licence.id, article_id=third.id, partner_id=partner.id, actor=TEST_ACTOR)
    assert again.retired_at == long_ago + timedelta(hours=1)  # retired before, nothing delivered since
    session.commit()
    assert [a.article_id for a in caps.live_articles(session, licence)] == [second.id]
