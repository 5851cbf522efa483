"""From an active licence to the usage billing reads, through every format, an update and a takedown."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

import jsonschema
import pytest
from sqlmodel import select

import api.jobs  # noqa: F401  - registers the outbox handlers (webhook fan-out and sending)
from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleCreate, ArticleUpdate, AssetCreate
from api.delivery.webhooks import SEND_TOPIC
from api.invoicing import periods
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage
from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner
from tests.conftest import STANDARDS
from tests.delivery.conftest import bearer

WIRE = "https://img.example.com/wire/putin-assad.jpg"
CAPTION = "Photo: Reuters/Jane"
ATOM = "{http://www.w3.org/2005/Atom}"
TOMBSTONE = "{http://purl.org/atompub/tombstones/1.0}"


@pytest.fixture
def hook(allow_private_networks):
    """A real HTTP endpoint that keeps the webhook deliveries it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()


def _announce(engine) -> None:
    """What the worker does: fan the change out to webhook endpoints and send the deliveries."""
    for _ in range(3):
        outbox.drain(engine, topics={"article.changed", SEND_TOPIC})


def _announcements(session, article_id: str) -> list[tuple[str, int]]:
    session.expire_all()
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "article.changed")).all()
    session.commit()  # end the read (SQLite: a stale read transaction could not write later)
    return sorted((m.payload["change"], m.payload["version"]) for m in rows if m.payload["article_id"] == article_id)


def test_licence_to_token_to_every_format_to_update_to_takedown_to_billed_usage(client, session, engine, settings, hook):
    hook_url, received = hook
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    keys = {"X-API-Key": api_key}
    article, _created, _changed = catalogue.upsert_article(session, ArticleCreate(
        headline="Putin makes surprise visit to Syria", standfirst="Rare visit", byline="MEE staff", authors=["MEE staff"],
        body_html=(f'<p>Russia\'s president arrived in Damascus.</p><figure><img src="{WIRE}"><figcaption>{CAPTION}'
                   f'</figcaption></figure><p>See <a href="{WIRE}?w=1600">the picture</a>.</p>'),
        canonical_url="https://www.middleeasteye.net/news/putin-syria", section="news", tags=["syria"],
        published_at=datetime(2020, 1, 7, 12, tzinfo=UTC),
        assets=[AssetCreate(url=WIRE, caption=CAPTION, credit="Reuters/Jane")]), actor=TEST_ACTOR)
    other = make_article(session)
    # A catalogue licence billed per republication: active at once, invoiced at the end of the month.
    licence = make_licence(session, partner=partner, scope="catalogue", billing_mode="usage", amount=150)
    session.commit()
    assert str(licence.state) == "active"
    assert client.post("/v1/webhook-endpoints", headers=keys, json={"url": hook_url}).status_code == 201

    minted = client.post(f"/v1/licences/{licence.id}/tokens", headers=keys)
    assert minted.status_code == 201
    auth = bearer(minted.json()["token"])
    url = f"/v1/content/articles/{article.id}"

    # Every format, each with its attribution and without the agency picture.
    as_json = client.get(url, headers=auth)
    assert as_json.status_code == 200
    attribution = as_json.json()["attribution"]
    assert (attribution["publisher"], attribution["canonical_url"], attribution["licence"]["id"]) == (
        settings.publisher_name, article.canonical_url, licence.id)
    assert attribution["json_ld"]["isBasedOn"] == article.canonical_url and attribution["byline"] == "MEE staff"
    as_ninjs = client.get(url, headers=auth, params={"format": "ninjs"})
    jsonschema.validate(as_ninjs.json(), json.loads((STANDARDS / "ninjs" / "ninjs-schema_3.1.json").read_text()))
    assert as_ninjs.json()["copyrightHolder"] == settings.copyright_holder and licence.id in as_ninjs.json()["usageTerms"]
    as_html = client.get(url, headers={**auth, "Accept": "text/html"})
    assert f'<link rel="canonical" href="{article.canonical_url}">' in as_html.text and "application/ld+json" in as_html.text
    atom = client.get("/v1/content/feed", headers=auth, params={"format": "atom"})
    rss = client.get("/v1/content/feed", headers=auth, params={"format": "rss"})
    listing = client.get("/v1/content/feed", headers=auth)
    for feed in (atom, rss):
        assert feed.status_code == 200 and article.headline in feed.text and other.headline in feed.text
        assert "syndicate-attribution" in feed.text and article.canonical_url in feed.text and licence.id in feed.text
    for response in (as_json, as_ninjs, as_html, atom, rss, listing):
        assert "putin-assad" not in response.text and CAPTION not in response.text

    # An update: a new version, served, listed last in the feed, and announced.
    catalogue.update_article(session, article.id, ArticleUpdate(headline="Putin visits Damascus"), actor=TEST_ACTOR)
    session.commit()
    updated = client.get(url, headers={**auth, "If-None-Match": as_json.headers["etag"]})
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["headline"] == "Putin visits Damascus"
    feed = client.get("/v1/content/feed", headers=auth).json()["items"]
    assert (feed[-1]["id"], feed[-1]["version"]) == (article.id, 2)
    assert _announcements(session, article.id) == [("updated", 2)]
    _announce(engine)
    assert [(e["type"], e["data"]["article_id"], e["data"]["version"]) for e in received] == [
        ("article.updated", article.id, 2)]

    # The takedown: 410 with a problem body, a tombstone in every feed, and announced.
    catalogue.withdraw_article(session, article.id, reason="Legal complaint", actor=TEST_ACTOR)
    session.commit()
    gone = client.get(url, headers=auth)
    assert gone.status_code == 410 and gone.headers["content-type"] == "application/problem+json"
    problem = gone.json()
    assert (problem["type"], problem["status"], problem["instance"], problem["article_id"], problem["version"]) == (
        "/problems/content-withdrawn", 410, url, article.id, 3)
    assert problem["title"] and "Legal complaint" in problem["detail"]
    atom = ElementTree.fromstring(client.get("/v1/content/feed", headers=auth, params={"format": "atom"}).content)
    assert [t.get("ref") for t in atom.findall(f"{TOMBSTONE}deleted-entry")] == [article.canonical_url]
    rss = ElementTree.fromstring(client.get("/v1/content/feed", headers=auth, params={"format": "rss"}).content)
    assert [i.find("category").text for i in rss.findall("./channel/item") if i.find("guid").text == article.canonical_url] == [
        "withdrawn"]
    listed = {i["id"]: i["status"] for i in client.get("/v1/content/feed", headers=auth).json()["items"]}
    assert listed[article.id] == "withdrawn"
    assert _announcements(session, article.id) == [("updated", 2), ("withdrawn", 3)]
    _announce(engine)
    assert [e["type"] for e in received] == ["article.updated", "article.withdrawn"]
    assert received[-1]["data"]["reason"] == "Legal complaint"
    endpoint = client.get("/v1/webhook-endpoints", headers=keys).json()["items"][0]
    deliveries = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=keys).json()["items"]
    assert sorted((d["event_type"], d["status"]) for d in deliveries) == [
        ("article.updated", "succeeded"), ("article.withdrawn", "succeeded")]

    # What billing will invoice: one republication per article fetched under the licence, however
    # many times and in however many formats (the tombstones are not deliveries).
    session.expire_all()
    [billable] = periods.collect(session, f"{datetime.now(UTC):%Y-%m}")[partner.id]
    assert (billable.licence_id, billable.line.quantity, billable.line.unit_amount) == (licence.id, 2, 150)
