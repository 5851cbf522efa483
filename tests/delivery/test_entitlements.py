"""GET /v1/partners/me/entitlements: each licence's coverage, quota standing, limits and live copies,
in agreement with the RateLimit headers of real content responses."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.builders import make_api_key, make_article, make_licence, make_partner
from tests.delivery.conftest import bearer, mint


def test_entitlements_agree_with_the_ratelimit_headers_of_a_content_request(client, session):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    articles = [make_article(session), make_article(session)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle", monthly_quota=5,
                           territories=["GB", "FR"])
    session.commit()
    keys = {"X-API-Key": api_key}
    token = client.post(f"/v1/licences/{licence.id}/tokens", headers=keys).json()["token"]
    client.get(f"/v1/content/articles/{articles[0].id}", headers=bearer(token))
    fetched = client.get(f"/v1/content/articles/{articles[1].id}", headers=bearer(token))
    assert fetched.status_code == 200
    asked_at = datetime.now(UTC)

    answer = client.get("/v1/partners/me/entitlements", headers=keys)
    assert answer.status_code == 200, answer.text
    [item] = answer.json()["items"]
    assert item["licence_id"] == licence.id and item["usable"] is True and item["status"] == "active"
    assert item["covers"]["scope"] == "bundle" and sorted(item["covers"]["article_ids"]) == sorted(a.id for a in articles)
    assert item["covers"]["territories"] == ["GB", "FR"] and item["covers"]["uses"] == ["web"]
    assert "ninjs" in item["covers"]["formats"] and "atom" in item["covers"]["feed_formats"]
    quota = item["quota"]
    assert quota["monthly_limit"] == int(fetched.headers["ratelimit-limit"]) == 5
    assert quota["left"] == int(fetched.headers["ratelimit-remaining"]) == 3
    assert quota["used"] == 2
    resets_at = datetime.fromisoformat(quota["resets_at"])
    assert abs((resets_at - asked_at).total_seconds() - int(fetched.headers["ratelimit-reset"])) <= 2
    assert fetched.headers["ratelimit-policy"].startswith("5;w=")
    assert {a["article_id"] for a in item["live_articles"]} == {a.id for a in articles}
    assert item["cap"]["live"] == 2
    limits = {r["name"]: r for r in answer.json()["rate_limits"]}
    assert limits["content"]["per"] == "licence token" and limits["content"]["limit"] > 0


def test_a_licence_without_quota_sends_no_ratelimit_headers_and_reports_unlimited(client, licensed):
    token = mint(client, licensed)["token"]
    fetched = client.get(f"/v1/content/articles/{licensed.articles[1].id}", headers=bearer(token))
    assert fetched.status_code == 200 and "ratelimit-limit" not in fetched.headers
    [item] = client.get("/v1/partners/me/entitlements", headers=licensed.key_headers).json()["items"]
    assert item["quota"]["monthly_limit"] is None and item["quota"]["left"] is None and item["quota"]["used"] == 1


def test_entitlements_show_only_the_callers_licences_and_page(client, session, licensed):
    other = make_partner(session)
    make_licence(session, partner=other, articles=[make_article(session)])
    make_licence(session, partner=licensed.partner, articles=[make_article(session)])
    session.commit()
    first = client.get("/v1/partners/me/entitlements", params={"limit": 1}, headers=licensed.key_headers).json()
    second = client.get("/v1/partners/me/entitlements", params={"limit": 1, "cursor": first["next_cursor"]},
                        headers=licensed.key_headers).json()
    seen = [i["licence_id"] for i in first["items"] + second["items"]]
    assert len(seen) == 2 and licensed.licence.id in seen and second["next_cursor"] is None
    assert client.get("/v1/partners/me/entitlements").status_code == 401


def _partner_with_licences(client, session, count: int):
    """A partner with `count` licences, each with a quota and a grant, deliveries and a token; every
    other one capped with a copy live, the rest with a copy retired."""
    from datetime import timedelta

    from api.core.db import utcnow
    from api.delivery import caps
    from api.licensing import amendments
    from tests.builders import TEST_ACTOR
    from tests.reports.data import add_usage

    partner = make_partner(session)
    keys = {"X-API-Key": make_api_key(session, partner)}
    for n in range(count):
        articles = [make_article(session), make_article(session)]
        licence = make_licence(session, partner=partner, articles=articles, scope="bundle",
                               monthly_quota=10, max_live_articles=2 if n % 2 == 0 else None)
        assert licence.max_live_articles == (2 if n % 2 == 0 else None)
        for article in articles:
            add_usage(session, licence, article, at=utcnow(), billable=True)
        if licence.max_live_articles is not None:
            caps.admit(session, licence.id, [articles[0].id], cap=2)
        else:
            caps.retire(session, licence_id=licence.id, article_id=articles[1].id, partner_id=partner.id,
                        actor=TEST_ACTOR)
        amendments.grant_quota(session, licence.id, extra=5, expires_at=utcnow() + timedelta(days=3),
                               reason="A big week.", actor=TEST_ACTOR)
        session.commit()
        assert client.post(f"/v1/licences/{licence.id}/tokens", headers=keys).status_code == 201
    return partner, keys


def test_entitlements_take_as_many_queries_for_ten_licences_as_for_one_of_each_kind(app, client, session):
    from tests.query_plans import counted

    answers = {}
    for count in (1, 2, 10):
        _partner, keys = _partner_with_licences(client, session, count)
        client.get("/v1/partners/me/entitlements", headers=keys)  # the key's first use is recorded
        with counted(app.state.engine) as statements:
            answer = client.get("/v1/partners/me/entitlements", headers=keys)
        assert answer.status_code == 200 and len(answer.json()["items"]) == count
        answers[count] = len(statements)
    assert answers[1] <= answers[2] == answers[10], answers


def test_an_unpaid_licence_says_its_tokens_work_once_paid(client, session, licensed):
    unpaid = make_licence(session, partner=licensed.partner, articles=licensed.articles, amount=5000)
    session.commit()
    items = client.get("/v1/partners/me/entitlements", headers=licensed.key_headers).json()["items"]
    [item] = [i for i in items if i["licence_id"] == unpaid.id]
    assert item["status"] == "awaiting_payment" and item["usable"] is False
    assert "awaiting payment" in item["unusable_reason"] and "once its invoice is paid" in item["unusable_reason"]
    assert "no longer" not in item["unusable_reason"]
