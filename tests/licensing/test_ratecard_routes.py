"""The rate card over HTTP: public reading, staff publishing new versions, validation."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, delete, select

from api.audit.models import AuditEntry
from api.audit.service import Actor
from api.licensing import ratecard
from api.licensing.errors import RateCardVersionConflict
from api.licensing.models import RateCardVersion
from tests.builders import make_article, staff_headers
from tests.licensing.helpers import partner_with_key, request_body


def test_publish_a_new_version_used_by_new_requests(client, session) -> None:
    current = client.get("/v1/rate-card")
    assert current.status_code == 200 and current.json()["version"] == 1
    card = current.json()["card"]
    staff = staff_headers(client, session, roles=["licensing"])
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    before = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id])).json()

    card["article_price"]["GBP"] = 20000
    published = client.put("/v1/staff/rate-card", headers=staff, json={"note": "Articles up", "card": card})
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    after = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id])).json()
    assert (before["rate_card_version"], before["amount_quoted"]) == (1, 15000)
    assert (after["rate_card_version"], after["amount_quoted"]) == (2, 20000)
    assert client.get("/v1/rate-card/versions/1").json()["card"]["article_price"]["GBP"] == 15000
    assert client.get("/v1/rate-card").json()["version"] == 2
    missing = client.get("/v1/rate-card/versions/99")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/rate-card-not-found"


def test_an_inconsistent_card_is_refused_with_reasons(client, session) -> None:
    card = client.get("/v1/rate-card").json()["card"]
    staff = staff_headers(client, session, roles=["licensing"])
    del card["article_price"]["USD"]
    card["territory_zones"][0]["countries"].append("ZZ")
    card["audience_tiers"].reverse()
    response = client.put("/v1/staff/rate-card", headers=staff, json={"card": card})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/invalid-rate-card"
    assert any("article_price" in p for p in body["problems"]) and any("ZZ" in p for p in body["problems"])
    assert any("audience tier" in p for p in body["problems"])
    assert client.get("/v1/rate-card").json()["version"] == 1


def test_only_licensing_staff_publish(client, session) -> None:
    card = client.get("/v1/rate-card").json()["card"]
    finance = staff_headers(client, session, roles=["finance"])
    response = client.put("/v1/staff/rate-card", headers=finance, json={"card": card})
    assert response.status_code == 403 and response.json()["type"] == "/problems/role-required"
    assert client.put("/v1/staff/rate-card", json={"card": card}).status_code == 401


def _versions(session) -> list[int]:
    rows = session.exec(select(RateCardVersion.version).order_by(RateCardVersion.version)).all()
    session.commit()
    return list(rows)


def _published_entries(session) -> int:
    count = len(session.exec(select(AuditEntry).where(AuditEntry.action == "rate_card.published")).all())
    session.commit()
    return count


def test_the_api_publishes_the_default_card_when_it_starts_and_never_on_a_read(app, session) -> None:
    with TestClient(app) as client:  # starting up seeds version 1
        assert _versions(session) == [1]
        session.exec(delete(RateCardVersion))
        session.commit()
        for path in ("/v1/rate-card", "/v1/licence-requests/form"):
            response = client.get(path)
            assert response.status_code == 503, response.text
            assert response.json()["type"] == "/problems/rate-card-not-published"
            assert "PUT /v1/staff/rate-card" in response.json()["detail"]
        assert _versions(session) == []  # the reads wrote nothing
    with TestClient(app) as client:
        assert _versions(session) == [1]
        assert client.get("/v1/rate-card").json()["version"] == 1
    with TestClient(app):  # starting again with a card in place publishes nothing
        assert _versions(session) == [1]


def test_a_stale_publisher_gets_a_conflict_and_writes_nothing(client, session, monkeypatch) -> None:
    """What the loser of two simultaneous publications sees (the race itself is tested on
    PostgreSQL below): it read version 1 as current after the winner had published version 2."""
    card = client.get("/v1/rate-card").json()["card"]
    first = staff_headers(client, session, roles=["licensing"])
    second = staff_headers(client, session, roles=["licensing"])
    stale = ratecard.current_version(session)
    session.commit()
    assert client.put("/v1/staff/rate-card", headers=first, json={"note": "first", "card": card}).status_code == 201

    monkeypatch.setattr(ratecard, "current_version", lambda _session: stale)
    response = client.put("/v1/staff/rate-card", headers=second, json={"note": "second", "card": card})
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"] == "/problems/rate-card-version-conflict" and body["version"] == 2
    assert "published rate card version 2 first" in body["detail"] and "reload" in body["detail"]
    monkeypatch.undo()
    assert _versions(session) == [1, 2]
    assert _published_entries(session) == 2  # the seed and the first publication only
    assert client.get("/v1/rate-card").json()["note"] == "first"


@pytest.mark.postgres_only
def test_two_staff_publishing_at_once_get_one_version_and_one_conflict(engine, session) -> None:
    ratecard.ensure_default_rate_card(session)
    session.commit()
    outcome: dict[str, object] = {}

    def second() -> None:
        with Session(engine, expire_on_commit=False) as own:
            try:
                ratecard.publish(own, ratecard.DEFAULT_RATE_CARD, actor=Actor("staff", "stf_second"), note="second")
                own.commit()
                outcome["result"] = "published"
            except RateCardVersionConflict as exc:
                own.rollback()
                outcome["result"] = exc

    with Session(engine, expire_on_commit=False) as first:
        ratecard.publish(first, ratecard.DEFAULT_RATE_CARD, actor=Actor("staff", "stf_first"), note="first")
        thread = threading.Thread(target=second)  # reads version 1 too, then waits on the unique index
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the second publication should be waiting on the first one's version 2"
        first.commit()
    thread.join()
    assert isinstance(outcome["result"], RateCardVersionConflict)
    assert outcome["result"].extra == {"version": 2}  # type: ignore[union-attr]
    assert _versions(session) == [1, 2]
    assert _published_entries(session) == 2
