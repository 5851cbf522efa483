"""The per-licence and per-article daily rollups always equal `usage_daily` summed their way, however
the rows arrive: several usage writers at once with overlapping batches, repeated keys within a
batch, upserts onto existing rows, rows written through the ORM, and updates."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from api.core.db import session_scope
from api.delivery import usage_log
from api.delivery.metering import open_store
from api.delivery.usage_rows import Usage


def _rollups_and_sums(engine) -> dict[str, tuple[list, list]]:
    """Each rollup's rows beside usage_daily summed the same way, both sorted."""
    queries = {
        "licence": ("SELECT CAST(day AS TEXT), licence_id, partner_id, deliveries, republications FROM usage_licence_daily",
                    "SELECT CAST(day AS TEXT), licence_id, min(partner_id), sum(deliveries), sum(republications) "
                    "FROM usage_daily GROUP BY day, licence_id"),
        "article": ("SELECT CAST(day AS TEXT), article_id, deliveries, republications FROM usage_article_daily",
                    "SELECT CAST(day AS TEXT), article_id, sum(deliveries), sum(republications) "
                    "FROM usage_daily GROUP BY day, article_id"),
    }
    with engine.connect() as connection:
        return {name: (sorted(tuple(r) for r in connection.execute(text(rollup))),
                       sorted(tuple(int(v) if isinstance(v, int) else v for v in r)
                              for r in connection.execute(text(summed))))
                for name, (rollup, summed) in queries.items()}


def _assert_rollups_agree(engine) -> None:
    for name, (rollup, summed) in _rollups_and_sums(engine).items():
        assert rollup and rollup == summed, name


async def test_concurrent_writers_with_overlapping_and_repeated_rows_keep_both_rollups_exact(engine) -> None:
    licences = [(f"lic_{n}", f"ptn_{n % 3}") for n in range(6)]
    articles = [f"art_{n}" for n in range(8)]
    rng = random.Random(17)

    def batch() -> tuple[list[Usage], list[bool]]:
        # Few keys, many rows: every batch repeats (licence, article) pairs, and batches overlap.
        chosen = [rng.choice(licences) for _ in range(40)]
        usages = [Usage(lic, ptn, rng.choice(articles), 1, "json", None) for lic, ptn in chosen]
        return usages, [rng.random() < 0.3 for _ in usages]

    stores = [await open_store(engine) for _ in range(3)]
    try:
        for _round in range(5):
            await asyncio.gather(*(store.write(*batch()) for store in stores))
    finally:
        for store in stores:
            await store.close()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT sum(deliveries) FROM usage_daily")).scalar_one() == 3 * 5 * 40
    _assert_rollups_agree(engine)
    with engine.connect() as connection:
        licence_total = connection.execute(text("SELECT sum(deliveries) FROM usage_licence_daily")).scalar_one()
        article_total = connection.execute(text("SELECT sum(deliveries) FROM usage_article_daily")).scalar_one()
    assert licence_total == article_total == 600


def test_orm_writes_and_updates_keep_both_rollups_exact(engine) -> None:
    day = datetime(2026, 11, 3, 9, tzinfo=UTC)
    with session_scope(engine) as session:
        for n in range(12):  # the same pairs again and again, over two days
            usage_log.add_event(session, licence_id=f"lic_{n % 2}", partner_id=f"ptn_{n % 2}",
                                article_id=f"art_{n % 3}", at=day + timedelta(hours=4 * n))
    _assert_rollups_agree(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE usage_daily SET deliveries = deliveries + 10 WHERE article_id = 'art_1'"))
    _assert_rollups_agree(engine)
    with engine.connect() as connection:
        assert connection.execute(text(
            "SELECT sum(deliveries) FROM usage_article_daily WHERE article_id = 'art_1'")).scalar_one() == 4 + 10 * 4  # four usage_daily rows
