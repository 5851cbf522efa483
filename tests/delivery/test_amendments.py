"""Amendments take effect at once in delivery: quotas raised or granted, ends brought forward, territories narrowed."""

from __future__ import annotations

import time
from datetime import timedelta

from api.core.db import utcnow
from api.licensing import amendments
from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner, staff_headers
from tests.delivery.conftest import bearer


def _licensed(session, **kwargs):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], **kwargs)
    session.commit()
    return api_key, article, licence


def _token(client, licence, api_key) -> dict[str, str]:
    return bearer(client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"])


def test_a_quota_raised_or_granted_by_staff_lets_the_very_next_request_through(client, session):
    api_key, article, licence = _licensed(session, monthly_quota=1)
    staff = staff_headers(client, session, roles=["licensing"])
    token = _token(client, licence, api_key)
    url = f"/v1/content/articles/{article.id}"
    assert client.get(url, headers=token).status_code == 200
    assert client.get(url, headers=token).status_code == 429  # the licence is now cached with its quota used up
    granted = client.post(f"/v1/staff/licences/{licence.id}/quota-grants", headers=staff, json={
        "extra": 1, "expires_at": (utcnow() + timedelta(days=3)).isoformat(), "reason": "Burst"})
    assert granted.status_code == 201
    allowed = client.get(url, headers=token)
    assert allowed.status_code == 200
    refused = client.get(url, headers=token)
    assert refused.status_code == 429 and refused.headers["ratelimit-limit"] == "2"
    raised = client.post(f"/v1/staff/licences/{licence.id}/amendments", headers=staff,
                         json={"monthly_quota": 3, "reason": "Bigger plan"})
    assert raised.status_code == 201
    assert client.get(url, headers=token).status_code == 200  # 3 + 1 granted = 4 a month


def test_narrowed_territories_and_a_shortened_end_refuse_the_next_request(client, session):
    api_key, article, licence = _licensed(session, territories=["GB", "FR"], days=60)
    token = _token(client, licence, api_key)
    url = f"/v1/content/articles/{article.id}"
    assert client.get(url, params={"territory": "FR"}, headers=token).status_code == 200
    amendments.amend(session, licence.id, changes={"territories": ["GB"]}, reason="France dropped", actor=TEST_ACTOR)
    session.commit()
    assert client.get(url, params={"territory": "FR"}, headers=token).status_code == 403
    assert client.get(url, params={"territory": "GB"}, headers=token).status_code == 200
    ends_at = utcnow() + timedelta(seconds=1)
    amendments.amend(session, licence.id, changes={"ends_at": ends_at}, reason="Ends now", actor=TEST_ACTOR)
    session.commit()
    while utcnow() <= ends_at:
        time.sleep(0.1)
    ended = client.get(url, headers=token)
    assert ended.status_code == 403 and "ended" in ended.json()["detail"]
