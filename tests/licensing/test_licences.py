"""Licences: listing, revocation, and expiry on time (job, worker registration and CLI)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from typer.testing import CliRunner

from api.audit.models import AuditEntry
from api.core.db import utcnow
from api.licensing import grants, licences
from api.licensing.models import Licence
from api.outbox.models import OutboxMessage
from tests.builders import make_article, make_licence, make_partner, staff_headers
from tests.licensing.helpers import partner_with_key


def _state(session, licence_id: str) -> str:
    value = str(session.get(Licence, licence_id, populate_existing=True).state)
    session.commit()
    return value


def test_staff_list_filter_and_revoke(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    partner, headers = partner_with_key(session)
    other = make_partner(session)
    free = make_licence(session, partner=partner, articles=[make_article(session)])
    paid = make_licence(session, partner=partner, articles=[make_article(session)], amount=5000)
    theirs = make_licence(session, partner=other, articles=[make_article(session)])
    session.commit()

    everything = client.get("/v1/staff/licences", headers=staff).json()["items"]
    assert {i["id"] for i in everything} == {free.id, paid.id, theirs.id}
    active = client.get("/v1/staff/licences", headers=staff, params={"partner_id": partner.id, "status": "active"}).json()
    assert [i["id"] for i in active["items"]] == [free.id]
    by_request = client.get("/v1/staff/licences", headers=staff, params={"request_id": paid.request_id}).json()
    assert [i["id"] for i in by_request["items"]] == [paid.id]
    assert client.get(f"/v1/staff/licences/{theirs.id}", headers=staff).json()["partner_id"] == other.id
    own = client.get("/v1/licences", headers=headers, params={"status": "awaiting_payment"}).json()
    assert [i["id"] for i in own["items"]] == [paid.id]

    no_reason = client.post(f"/v1/staff/licences/{free.id}/revoke", headers=staff, json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["type"] == "/problems/invalid-decision"
    revoked = client.post(f"/v1/staff/licences/{free.id}/revoke", headers=staff, json={"reason": "Breach of terms."})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = client.post(f"/v1/staff/licences/{free.id}/revoke", headers=staff, json={"reason": "Breach of terms."})
    assert again.status_code == 200
    missing = client.post("/v1/staff/licences/lic_missing/revoke", headers=staff, json={"reason": "x"})
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/licence-not-found"
    emails = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()
    assert sum(1 for m in emails if m.payload["subject"] == "A licence was revoked") == 1
    entry = session.exec(select(AuditEntry).where(AuditEntry.object_id == free.id, AuditEntry.action == "licence.revoked")).one()
    assert entry.actor_type == "staff" and entry.after["reason"] == "Breach of terms."
    session.commit()


def test_an_expired_licence_cannot_be_revoked(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)], days=-1)
    session.commit()
    licences.expire_due(session.get_bind())
    response = client.post(f"/v1/staff/licences/{licence.id}/revoke", headers=staff, json={"reason": "late"})
    assert response.status_code == 409 and response.json()["type"] == "/problems/invalid-transition"


def test_an_unpaid_licence_cannot_be_revoked(client, session) -> None:
    """The product rules (docs/product-rules.md) list no way out of `awaiting_payment` but payment
    or cancellation: revoking is refused clearly, and nothing is written or sent."""
    staff = staff_headers(client, session, roles=["licensing"])
    unpaid = make_licence(session, partner=make_partner(session), articles=[make_article(session)], amount=5000)
    session.commit()
    response = client.post(f"/v1/staff/licences/{unpaid.id}/revoke", headers=staff, json={"reason": "Never paid."})
    assert response.status_code == 409 and response.json()["type"] == "/problems/invalid-transition"
    assert response.json()["current_state"] == "awaiting_payment" and response.json()["requested_state"] == "revoked"
    assert "allowed next states: active" in response.json()["detail"]
    assert _state(session, unpaid.id) == "awaiting_payment"
    assert session.exec(select(AuditEntry).where(AuditEntry.object_id == unpaid.id,
                                                 AuditEntry.action == "licence.revoked")).all() == []
    emails = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()
    assert not [m for m in emails if m.payload["subject"] == "A licence was revoked"]
    session.commit()


def test_expiry_job_expires_only_ended_active_licences_once(engine, session) -> None:
    partner = make_partner(session)
    ended = [make_licence(session, partner=partner, articles=[make_article(session)], days=-1) for _ in range(5)]
    running = make_licence(session, partner=partner, articles=[make_article(session)], days=10)
    unpaid = make_licence(session, partner=partner, articles=[make_article(session)], amount=100, days=-1)
    suspended = make_licence(session, partner=partner, articles=[make_article(session)], days=-1)
    grants.suspend(session, suspended, actor=grants.Actor.system("tests"), reason="payment failed")
    session.commit()

    assert licences.expire_due(engine, batch_size=2) == 5
    assert {_state(session, lic.id) for lic in ended} == {"expired"}
    assert _state(session, running.id) == "active"
    assert _state(session, unpaid.id) == "awaiting_payment"
    assert _state(session, suspended.id) == "suspended"
    assert licences.expire_due(engine) == 0
    audits = session.exec(select(AuditEntry).where(AuditEntry.action == "licence.expired")).all()
    assert len(audits) == 5 and {a.actor_id for a in audits} == {"expiry"}
    session.commit()
    # Later, the running one ends too.
    assert licences.expire_due(engine, now=utcnow() + timedelta(days=11)) == 1


def test_expiry_runs_in_the_worker_and_from_the_cli(engine, session, settings, monkeypatch) -> None:
    from api.worker import registered_jobs

    job = registered_jobs()["licences.expire"]
    assert job.every_seconds == 60
    first = make_licence(session, partner=make_partner(session), articles=[make_article(session)], days=-1)
    session.commit()
    assert job.run(engine) == 1
    assert _state(session, first.id) == "expired"

    second = make_licence(session, partner=make_partner(session), articles=[make_article(session)], days=-2)
    session.commit()
    from api.cli import app
    from api.core.config import get_settings

    monkeypatch.setenv("SYNDICATE_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["licences", "expire"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "expired 1 licence(s)" in result.output
    assert _state(session, second.id) == "expired"
