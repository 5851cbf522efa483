"""The generic Idempotency-Key helper (used by licence requests, reusable by billing)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from api.core import idempotency
from api.core.errors import IdempotencyKeyInProgress, IdempotencyKeyInvalid, IdempotencyKeyReused


def test_no_key_passes_through(session) -> None:
    claim = idempotency.claim(session, scope="s", key=None, body={"a": 1})
    assert not claim.replay and claim.record is None
    assert claim.respond(status_code=201, content={"id": 1}).status_code == 201
    assert session.exec(select(idempotency.IdempotencyRecord)).first() is None


def test_replay_mismatch_and_scope(session) -> None:
    first = idempotency.claim(session, scope="partner:a", key="k", body={"a": 1, "b": [1, 2]})
    first.respond(status_code=201, content={"id": "x"})
    session.commit()
    replay = idempotency.claim(session, scope="partner:a", key="k", body={"b": [1, 2], "a": 1})
    assert replay.replay
    response = replay.response()
    assert response.status_code == 201 and response.body == b'{"id":"x"}'
    with pytest.raises(IdempotencyKeyReused):
        idempotency.claim(session, scope="partner:a", key="k", body={"a": 2, "b": [1, 2]})
    assert not idempotency.claim(session, scope="partner:b", key="k", body={"a": 1, "b": [1, 2]}).replay
    with pytest.raises(IdempotencyKeyInvalid):
        idempotency.claim(session, scope="partner:a", key=" ", body={})
    with pytest.raises(IdempotencyKeyInvalid):
        idempotency.claim(session, scope="partner:a", key="x" * 256, body={})
    assert not idempotency.claim(session, scope="partner:a", key="x" * 255, body={}).replay


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", "a\tb", " lead", "trail "])
def test_malformed_or_over_long_keys_are_refused(session, key) -> None:
    with pytest.raises(IdempotencyKeyInvalid) as raised:
        idempotency.claim(session, scope="partner:a", key=key, body={})
    assert raised.value.status == 400 and "255" in raised.value.detail


def test_a_structured_field_quoted_key_is_the_same_key(session) -> None:
    idempotency.claim(session, scope="p", key='"8e03978e"', body={}).respond(status_code=201, content={})
    assert idempotency.claim(session, scope="p", key="8e03978e", body={}).replay


def test_a_key_whose_first_request_has_not_finished_is_a_conflict(session) -> None:
    idempotency.claim(session, scope="p", key="busy", body={"a": 1})  # claimed, no response stored yet
    with pytest.raises(IdempotencyKeyInProgress) as raised:
        idempotency.claim(session, scope="p", key="busy", body={"a": 1})
    assert raised.value.status == 409


def test_a_concurrent_retry_waits_and_replays(engine) -> None:
    """The second request with the key blocks until the first commits, then replays its answer."""
    outcome: dict[str, object] = {}

    def retry() -> None:
        with Session(engine, expire_on_commit=False) as own:
            claim = idempotency.claim(own, scope="race", key="same", body={"n": 1})
            outcome["replay"] = claim.replay
            outcome["body"] = claim.record.response_body if claim.record else None
            own.commit()

    with Session(engine, expire_on_commit=False) as first:
        claim = idempotency.claim(first, scope="race", key="same", body={"n": 1})
        assert not claim.replay
        thread = threading.Thread(target=retry)
        thread.start()
        claim.respond(status_code=201, content={"done": True})
        first.commit()
    thread.join()
    assert outcome == {"replay": True, "body": {"done": True}}
    with Session(engine) as check:
        assert len(check.exec(select(idempotency.IdempotencyRecord)).all()) == 1


def test_purge_expired(session) -> None:
    from datetime import timedelta

    idempotency.claim(session, scope="p", key="old", body={}).respond(status_code=200, content={})
    assert idempotency.purge_expired(session, older_than=timedelta(days=1)) == 0
    assert idempotency.purge_expired(session, older_than=timedelta(seconds=-1)) == 1
