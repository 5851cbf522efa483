"""Beacon hits are counted in batches: one transaction for many hits, with the counts a commit per
hit gave (raw hits, views deduplicated by viewer within 30 minutes), nothing lost at shutdown or
counted twice when a batch fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from api.tracking import service
from api.tracking.beacon_buffer import BeaconBuffer, PendingHit
from api.tracking.models import BeaconSighting, BeaconSightingDay

PAGE = "https://outlet.example/story"
AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def buffer(test_engine):
    made = BeaconBuffer(test_engine, interval=3600)  # flushed by the test, never by its thread
    yield made
    made.flush()


def _hit(licensed, viewer: str | None, minutes: float = 0, page: str = PAGE, article: int = 0) -> PendingHit:
    return PendingHit(licence_id=licensed.licence.id, article_id=licensed.articles[article].id, page_url=page,
                      viewer=viewer, kill=None, at=AT + timedelta(minutes=minutes))


def _totals(session) -> dict[str, tuple[int, int]]:
    session.rollback()
    return {s.page_url: (s.hits, s.views) for s in session.exec(select(BeaconSighting)).all()}


def test_one_transaction_counts_a_batch_as_hits_one_by_one_would(session, test_engine, licensed, buffer):
    hits = [_hit(licensed, "ann"), _hit(licensed, "ann", 1), _hit(licensed, None, 2),  # a reload, a bot
            _hit(licensed, "bob", 3), _hit(licensed, "ann", 31),  # another viewer; ann's window has passed
            _hit(licensed, "ann", 5, page=PAGE + "/other")]
    for hit in hits:
        buffer.add(hit)
    assert _totals(session) == {} and buffer.pending() == 6  # answered, not yet counted

    commits: list[int] = []

    def committed(_connection) -> None:
        commits.append(1)

    event.listen(test_engine, "commit", committed)
    try:
        assert buffer.flush() == 6
    finally:
        event.remove(test_engine, "commit", committed)
    assert len(commits) == 1
    assert _totals(session) == {PAGE: (5, 3), PAGE + "/other": (1, 1)}
    [day] = session.exec(select(BeaconSightingDay).join(
        BeaconSighting, BeaconSighting.id == BeaconSightingDay.sighting_id).where(BeaconSighting.page_url == PAGE)).all()
    assert (day.hits, day.views, day.first_seen_at, day.last_seen_at) == (5, 3, AT, AT + timedelta(minutes=31))

    # The same hits one request and one commit each (the path before batching) count the same.
    for hit in hits:
        service.record_sighting(session, licence_id=hit.licence_id, article_id=hit.article_id,
                                page_url=hit.page_url + "/replay", viewer=hit.viewer, now=hit.at)
        session.commit()
    totals = _totals(session)
    assert (totals[PAGE + "/replay"], totals[PAGE + "/other/replay"]) == ((5, 3), (1, 1))

def test_stop_counts_what_is_left(session, test_engine, licensed):
    buffer = BeaconBuffer(test_engine, interval=3600)
    buffer.start()
    buffer.add(_hit(licensed, "ann"))
    buffer.add(_hit(licensed, "bob"))
    buffer.stop()
    assert _totals(session) == {PAGE: (2, 2)} and buffer.pending() == 0


def test_the_flusher_counts_within_its_interval(session, test_engine, licensed):
    import time

    buffer = BeaconBuffer(test_engine, interval=0.05)
    buffer.start()
    try:
        buffer.add(_hit(licensed, "ann"))
        deadline = time.monotonic() + 5
        while buffer.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        assert _totals(session) == {PAGE: (1, 1)}
    finally:
        buffer.stop()


def test_a_failed_batch_is_kept_and_counted_once_later(session, licensed, buffer, monkeypatch):
    buffer.add(_hit(licensed, "ann"))
    buffer.add(_hit(licensed, "ann", 1))
    real = service.record_sighting
    monkeypatch.setattr(service, "record_sighting", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("database gone")))
    with pytest.raises(RuntimeError):
        buffer.flush()
    assert buffer.pending() == 2 and _totals(session) == {}
    monkeypatch.setattr(service, "record_sighting", real)
    assert buffer.flush() == 2
    assert _totals(session) == {PAGE: (2, 1)}


def test_a_hit_the_database_refuses_does_not_hold_up_the_others(session, licensed, buffer):
    buffer.add(_hit(licensed, "ann"))
    buffer.add(PendingHit(licence_id="lic_gone", article_id="art_gone", page_url=PAGE, viewer="bob", kill=None, at=AT))
    buffer.add(_hit(licensed, "carl"))
    assert buffer.flush() == 2
    assert _totals(session) == {PAGE: (2, 2)} and buffer.pending() == 0
