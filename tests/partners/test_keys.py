"""The API-key format: our own prefix, a checksum that catches typos before the database, and
keys issued in the old `sk_live_` format still accepted until revoked."""

from __future__ import annotations

import re

from sqlalchemy import event

from api.audit.service import Actor
from api.partners import keys
from api.partners.models import ApiKey
from tests.builders import make_partner


def test_new_keys_have_our_prefix_and_a_valid_checksum() -> None:
    raw, prefix = keys.generate_key()
    assert re.fullmatch(r"synd_[0-9A-Za-z]{38}", raw), raw
    assert prefix == raw[:11] and keys.is_well_formed(raw)
    assert not raw.startswith("sk_")


def test_a_single_changed_character_breaks_the_checksum() -> None:
    raw, _ = keys.generate_key()
    position = len(raw) - 10
    typo = raw[:position] + ("A" if raw[position] != "A" else "B") + raw[position + 1:]
    assert not keys.is_well_formed(typo)
    assert not keys.is_well_formed(raw[:-1])
    assert not keys.is_well_formed(raw + "x")
    assert not keys.is_well_formed("synd_" + "!" * 38)


def test_a_malformed_key_is_refused_without_a_database_query(client, engine) -> None:
    raw, _ = keys.generate_key()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "api_key" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/v1/partners/me", headers={"X-API-Key": raw[:-1] + ("0" if raw[-1] != "0" else "1")})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "malformed" in response.json()["detail"]
    assert statements == []


def test_a_legacy_sk_live_key_keeps_working_until_revoked(client, session) -> None:
    partner = make_partner(session)
    # The service no longer issues this format, so the row stands for one stored before the change.
    legacy = "sk_live_" + "Lq3" * 14
    key = ApiKey(partner_id=partner.id, name="issued before synd_", prefix=legacy[:14], key_hash=keys.hash_key(legacy))
    session.add(key)
    keys.issue_key(session, partner_id=partner.id, name="a second key")
    session.commit()

    assert client.get("/v1/partners/me", headers={"X-API-Key": legacy}).status_code == 200
    keys.revoke_key(session, partner_id=partner.id, key_id=key.id, actor=Actor("staff", "test"))
    session.commit()
    assert client.get("/v1/partners/me", headers={"X-API-Key": legacy}).status_code == 401
