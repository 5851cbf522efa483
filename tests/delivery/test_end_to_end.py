"""From an active licence to the usage rows billing reads, through an update and a takedown."""

from __future__ import annotations

import json

import jsonschema
from sqlalchemy import func
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.delivery.models import UsageEvent
from tests.builders import TEST_ACTOR
from tests.conftest import STANDARDS
from tests.delivery.conftest import bearer, mint


def test_licence_to_token_to_every_format_to_update_to_takedown_to_usage(client, session, licensed, settings):
    token = mint(client, licensed)["token"]
    article = licensed.articles[0]
    url = f"/v1/content/articles/{article.id}"

    as_json = client.get(url, headers=bearer(token))
    assert as_json.status_code == 200 and as_json.json()["attribution"]["publisher"] == settings.publisher_name
    as_ninjs = client.get(url, headers=bearer(token), params={"format": "ninjs"})
    jsonschema.validate(as_ninjs.json(), json.loads((STANDARDS / "ninjs" / "ninjs-schema_3.1.json").read_text()))
    assert as_ninjs.json()["copyrightHolder"] == settings.copyright_holder
    as_html = client.get(url, headers={**bearer(token), "Accept": "text/html"})
    assert 'rel="canonical"' in as_html.text and "application/ld+json" in as_html.text
    atom = client.get("/v1/content/feed", headers=bearer(token), params={"format": "atom"})
    assert atom.status_code == 200 and article.headline.encode() in atom.content

    catalogue.update_article(session, article.id, ArticleUpdate(headline="Updated headline"), actor=TEST_ACTOR)
    session.commit()
    updated = client.get(url, headers={**bearer(token), "If-None-Match": as_json.headers["etag"]})
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["headline"] == "Updated headline"
    feed = client.get("/v1/content/feed", headers=bearer(token)).json()["items"]
    assert feed[-1]["id"] == article.id and feed[-1]["version"] == 2  # the change sorts last (newest update)

    catalogue.withdraw_article(session, article.id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()
    assert client.get(url, headers=bearer(token)).status_code == 410
    feed = client.get("/v1/content/feed", headers=bearer(token)).json()["items"]
    assert [(i["id"], i["status"]) for i in feed if i["id"] == article.id] == [(article.id, "withdrawn")]

    session.expire_all()
    rows = session.exec(select(UsageEvent).where(UsageEvent.licence_id == licensed.licence.id).order_by(UsageEvent.id)).all()
    assert sorted((r.article_id, r.article_version, r.format) for r in rows) == sorted([
        (article.id, 1, "json"), (article.id, 1, "ninjs"), (article.id, 1, "html"),
        (article.id, 1, "feed"), (licensed.articles[1].id, 1, "feed"), (article.id, 2, "json")])
    assert all(r.partner_id == licensed.partner.id for r in rows)
    # What billing aggregates: one republication per (licence, article), whatever the number of fetches.
    billable = session.exec(select(UsageEvent.article_id, func.count()).where(
        UsageEvent.licence_id == licensed.licence.id, UsageEvent.billable.is_(True)).group_by(UsageEvent.article_id)).all()
    assert sorted(billable) == sorted([(article.id, 1), (licensed.articles[1].id, 1)])
