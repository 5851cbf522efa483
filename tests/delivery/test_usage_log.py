"""The usage log's rollups agree with its raw events; partitions are made ahead; retention keeps what
an open period needs and never touches rollups or republications."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from api.core.db import session_scope
from api.core.months import add_months
from api.delivery import usage_log
from api.invoicing import usage_retention
from api.delivery.models import Republication, UsageDaily, UsageEvent
from tests.builders import make_article, make_licence, make_partner
from tests.delivery.conftest import bearer


def _raw_counts(session) -> dict[tuple, tuple[int, int]]:
    """What the rollup should hold, counted from the raw events."""
    session.expire_all()
    counts: dict[tuple, list[int]] = {}
    for event in session.exec(select(UsageEvent)).scalars().all():
        found = counts.setdefault((event.at.date(), event.licence_id, event.article_id, event.partner_id), [0, 0])
        found[0] += 1
        found[1] += int(event.billable)
    return {key: (d, r) for key, (d, r) in counts.items()}


def _rollup(session) -> dict[tuple, tuple[int, int]]:
    return {(d.day, d.licence_id, d.article_id, d.partner_id): (d.deliveries, d.republications)
            for d in session.exec(select(UsageDaily)).scalars().all()}


async def test_the_writer_keeps_the_rollup_and_republications_exactly_with_the_events(app, session, licensed):
    runtime = app.state.delivery
    runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://syndicate.test") as client:
            token = (await client.post(f"/v1/licences/{licensed.licence.id}/tokens",
                                       headers=licensed.key_headers)).json()["token"]
            formats = ("json", "ninjs", "html")
            responses = await asyncio.gather(*[
                client.get(f"/v1/content/articles/{licensed.articles[i % 2].id}", headers=bearer(token),
                           params={"format": formats[i % 3]}) for i in range(45)])
            assert all(r.status_code == 200 for r in responses)
            # A second round after the first batch committed: only non-billable fetches now.
            more = await asyncio.gather(*[client.get(f"/v1/content/articles/{licensed.articles[0].id}",
                                                     headers=bearer(token)) for _ in range(7)])
            assert all(r.status_code == 200 for r in more)
    finally:
        await runtime.stop()
    raw = _raw_counts(session)
    assert sum(d for d, _ in raw.values()) == 52
    assert _rollup(session) == raw
    republications = session.exec(select(Republication)).scalars().all()
    billable = session.exec(select(UsageEvent).where(UsageEvent.billable)).scalars().all()
    assert sorted((r.licence_id, r.article_id, r.usage_id) for r in republications) == sorted(
        (e.licence_id, e.article_id, e.id) for e in billable)
    assert len(republications) == 2


def test_add_event_follows_the_writers_rules(session, licensed):
    day = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    article = licensed.articles[0]
    for n in range(3):
        usage_log.add_event(session, licence_id=licensed.licence.id, partner_id=licensed.partner.id,
                            article_id=article.id, at=day + timedelta(hours=n * 8))
    session.commit()
    assert sum(e.billable for e in session.exec(select(UsageEvent)).scalars().all()) == 1
    assert _rollup(session) == _raw_counts(session)
    assert {key[0]: value for key, value in _rollup(session).items()} == {
        day.date(): (2, 1), day.date() + timedelta(days=1): (1, 0)}


def test_deliveries_since_a_mid_day_instant_adds_the_raw_part_day(session, licensed):
    article = licensed.articles[0]
    for hour in (1, 5, 23, 24 + 2):
        usage_log.add_event(session, licence_id=licensed.licence.id, partner_id=licensed.partner.id,
                            article_id=article.id, at=datetime(2026, 11, 3, tzinfo=UTC) + timedelta(hours=hour))
    session.commit()
    assert usage_log.deliveries_since(session, licensed.licence.id, datetime(2026, 11, 3, tzinfo=UTC)) == 4
    assert usage_log.deliveries_since(session, licensed.licence.id, datetime(2026, 11, 3, 4, tzinfo=UTC)) == 3
    assert usage_log.deliveries_since(session, licensed.licence.id, datetime(2026, 11, 4, tzinfo=UTC)) == 1
    with pytest.raises(ValueError, match="not a midnight"):
        usage_log.day_of(datetime(2026, 11, 3, 4, tzinfo=UTC))


NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _usage_at(session, licence, article, at, *, billable=True):
    return usage_log.add_event(session, licence_id=licence.id, partner_id=licence.partner_id, article_id=article.id,
                               at=at, billable=billable)


def test_retention_removes_old_raw_events_only_and_keeps_rollups_and_republications(engine, session):
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article])  # free: nothing to bill
    old, recent = NOW - timedelta(days=500), NOW - timedelta(days=3)
    for n in range(5):
        _usage_at(session, licence, article, old + timedelta(minutes=n))
    _usage_at(session, licence, article, recent)
    session.commit()
    rollup_before = _rollup(session)

    removed = usage_retention.prune_usage_events(engine, retention_days=400, now=NOW, batch=2)

    assert removed == 5
    session.rollback()  # a fresh snapshot
    assert [e.at for e in session.exec(select(UsageEvent)).scalars().all()] == [recent]
    assert _rollup(session) == rollup_before  # reports over last year still add up
    assert session.exec(select(func.count()).select_from(Republication)).one()[0] == 1


def test_retention_keeps_the_raw_events_of_usage_not_billed_yet(engine, session):
    """A usage licence never invoiced: its first delivery, long past retention, is still to be billed."""
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], amount=300, billing_mode="usage")
    first = NOW - timedelta(days=500)
    _usage_at(session, licence, article, first)
    _usage_at(session, licence, article, first + timedelta(days=1), billable=False)
    session.commit()

    assert usage_retention.usage_cutoff(session, retention_days=400, now=NOW) == first
    assert usage_retention.prune_usage_events(engine, retention_days=400, now=NOW) == 0
    session.rollback()
    assert session.exec(select(func.count()).select_from(UsageEvent)).one()[0] == 2


def test_retention_never_reaches_into_the_previous_month(session):
    assert usage_retention.usage_cutoff(session, retention_days=10, now=datetime(2026, 3, 31, tzinfo=UTC)) == \
        datetime(2026, 2, 1, tzinfo=UTC)  # February's period may still be invoiced
    assert usage_retention.usage_cutoff(session, retention_days=62, now=datetime(2026, 1, 31, tzinfo=UTC)) == \
        datetime(2025, 11, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 1, tzinfo=UTC), -1) == datetime(2025, 12, 1, tzinfo=UTC)


def _partition_of(engine, event_id: str) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT tableoid::regclass::text FROM usage_event WHERE id = :id"),
                                  {"id": event_id}).scalar_one()


def test_postgres_partitions_are_created_ahead_and_old_months_dropped_whole(engine, session):
    if engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite keeps one table (the retention tests above)")
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article])
    old_month = datetime(2025, 6, 1, tzinfo=UTC)
    # Rows of a month with no partition yet land in the default partition...
    stray = _usage_at(session, licence, article, old_month + timedelta(days=3))
    session.commit()
    assert _partition_of(engine, stray.id) == "usage_event_default"
    try:
        # ...and move into their month's partition when the job creates it.
        created = usage_retention.ensure_partitions(engine, ahead_months=2, now=old_month)
        assert created == ["usage_event_y2025m06", "usage_event_y2025m07", "usage_event_y2025m08"]
        assert usage_retention.ensure_partitions(engine, ahead_months=2, now=old_month) == []
        assert _partition_of(engine, stray.id) == "usage_event_y2025m06"
        later = _usage_at(session, licence, article, datetime(2025, 7, 9, tzinfo=UTC))
        session.commit()
        assert _partition_of(engine, later.id) == "usage_event_y2025m07"

        usage_retention.prune_usage_events(engine, retention_days=400, now=datetime(2026, 8, 15, tzinfo=UTC))

        # June 2025 is wholly past the cut-off (11 July 2025) and dropped; July straddles it and stays whole.
        assert set(usage_retention.partitions(engine)) >= {"usage_event_y2025m07", "usage_event_y2025m08"}
        assert "usage_event_y2025m06" not in usage_retention.partitions(engine)
        session.rollback()
        assert [e.id for e in session.exec(select(UsageEvent)).scalars().all()] == [later.id]
        assert sum(d for d, _ in _rollup(session).values()) == 2  # the rollup still counts June
    finally:
        session.rollback()  # its snapshot would hold the partitions' locks
        with session_scope(engine) as cleanup:
            for name in usage_retention.partitions(engine):
                if name < "usage_event_y2026m01":
                    cleanup.execute(text(f"DROP TABLE IF EXISTS {name}"))
