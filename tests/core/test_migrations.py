"""The migrations, run on an empty database, produce exactly the models' schema."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url

from api.core.db import make_engine
from api.core.migrations import current_revision, head_revision, upgrade
from api.core.schema_diff import schema_differences


@pytest.fixture
def empty_database_url(database_url: str, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(database_url)
    name = f"syndicate_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_produce_the_models_schema(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) == head_revision(empty_database_url)
        differences = schema_differences(engine)
        assert differences == [], f"migrations and models differ: {differences}"
    finally:
        engine.dispose()


def test_catalogue_search_migration_indexes_existing_articles_and_downgrades(empty_database_url: str) -> None:
    """0009_catalogue_search on a catalogue that already has articles: their tag rows get the listing
    keys, search finds them at once; downgrading removes the search objects and upgrading again works."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import column, insert, table
    from sqlmodel import Session

    from api.catalogue import service
    from api.catalogue.models import Article
    from api.core.db import utcnow
    from api.core.migrations import alembic_config

    config = alembic_config(empty_database_url)
    before = ScriptDirectory.from_config(config).get_revision("0009_catalogue_search").down_revision
    command.upgrade(config, before)
    engine = make_engine(empty_database_url)
    now = utcnow()
    try:
        with engine.begin() as connection:
            connection.execute(insert(Article.__table__).values(  # type: ignore[attr-defined]
                id="art_old", slug="old", canonical_url="https://www.middleeasteye.net/news/old",
                headline="Drought talks stall", standfirst=None, body_html="<p>x</p>", body_text="x", authors=[],
                tags=["gulf"], language="en", word_count=1, status="published", licensable=True, version=1,
                content_hash="0" * 64, published_at=now, updated_at=now, created_at=now))
            connection.execute(insert(table("article_tag", column("article_id"), column("tag"))).values(
                article_id="art_old", tag="gulf"))
        for _round in range(2):
            command.upgrade(config, "head")
            assert schema_differences(engine) == []
            with Session(engine) as session:
                assert [a.id for a in service.list_articles(session, q="talks drought")[0]] == ["art_old"]
                assert [a.id for a in service.list_articles(session, tag="gulf")[0]] == ["art_old"]
                assert [a.id for a in service.list_articles(session, tag="gulf", published_from=now)[0]] == ["art_old"]
            command.downgrade(config, before)
            with engine.connect() as connection:
                leftovers = connection.execute(text(
                    "SELECT name FROM sqlite_master WHERE name LIKE 'article_search%'" if engine.dialect.name == "sqlite"
                    else "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_article_search'")).all()
            assert leftovers == []
    finally:
        engine.dispose()


def test_scale_migration_derives_republications_and_rollups_from_existing_usage_and_downgrades(
        empty_database_url: str) -> None:
    """0020_scale on a usage log that already has rows: each billable row becomes a republication,
    the daily rollup counts every row, the rows survive the rebuild (into monthly partitions on
    PostgreSQL), and downgrading gives the single table back with its rows."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import column, insert, table

    from api.core.migrations import alembic_config

    config = alembic_config(empty_database_url)
    command.upgrade(config, "0019_cursor")
    engine = make_engine(empty_database_url)
    usage = table("usage_event", *(column(c) for c in (
        "id", "licence_id", "partner_id", "article_id", "article_version", "format", "token_id", "billable", "at")))
    rows = [("use_1", "lic_a", "ptn_a", "art_1", True, datetime(2026, 10, 3, 9, tzinfo=UTC)),
            ("use_2", "lic_a", "ptn_a", "art_1", False, datetime(2026, 10, 3, 17, tzinfo=UTC)),
            ("use_3", "lic_a", "ptn_a", "art_2", True, datetime(2026, 11, 5, 8, tzinfo=UTC)),
            ("use_4", "lic_b", "ptn_b", "art_1", True, datetime(2026, 11, 5, 9, tzinfo=UTC))]
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as connection:
            connection.execute(insert(usage), [
                {"id": i, "licence_id": lic, "partner_id": p, "article_id": a, "article_version": 1, "format": "json",
                 "token_id": None, "billable": b, "at": at.replace(tzinfo=None).isoformat(sep=" ") if sqlite else at}
                for i, lic, p, a, b, at in rows])
        for _round in range(2):
            command.upgrade(config, "head")
            assert schema_differences(engine) == []
            with engine.connect() as connection:
                assert sorted(connection.execute(text(
                    "SELECT licence_id, article_id, usage_id FROM republication")).all()) == [
                    ("lic_a", "art_1", "use_1"), ("lic_a", "art_2", "use_3"), ("lic_b", "art_1", "use_4")]
                daily = connection.execute(text(
                    "SELECT CAST(day AS TEXT), licence_id, article_id, deliveries, republications FROM usage_daily "
                    "ORDER BY 1, 2, 3")).all()
                assert [tuple(r) for r in daily] == [("2026-10-03", "lic_a", "art_1", 2, 1),
                                                     ("2026-11-05", "lic_a", "art_2", 1, 1),
                                                     ("2026-11-05", "lic_b", "art_1", 1, 1)]
                assert connection.execute(text("SELECT count(*) FROM usage_event")).scalar_one() == 4
                if not sqlite:
                    homes = dict(connection.execute(text("SELECT id, tableoid::regclass::text FROM usage_event")).all())
                    assert homes["use_1"] == "usage_event_y2026m10" and homes["use_4"] == "usage_event_y2026m11"
            command.downgrade(config, "0019_cursor")
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM usage_event WHERE billable")).scalar_one() == 3
    finally:
        engine.dispose()


def test_revision_fields_migration_backfills_revisions_and_marks_past_embargoes_then_downgrades(
        empty_database_url: str) -> None:
    """0021_revision_fields on a catalogue with revisions: each gets its article's standfirst, byline,
    authors, tags and pictures (an article without pictures: an empty list); an embargo already over
    is marked as recorded, one still ahead is not; downgrading drops the columns, upgrading again works."""
    import json
    from datetime import timedelta

    from alembic import command
    from sqlalchemy import column, insert, table

    from api.core.db import utcnow
    from api.core.migrations import alembic_config

    config = alembic_config(empty_database_url)
    command.upgrade(config, "0020_scale")
    engine = make_engine(empty_database_url)
    now = utcnow()
    sqlite = engine.dialect.name == "sqlite"

    def when(value):
        return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value

    article = table("article", *(column(c) for c in (
        "id", "slug", "canonical_url", "headline", "standfirst", "body_html", "body_text", "byline", "authors", "tags",
        "language", "word_count", "status", "embargo_until", "licensable", "version", "content_hash", "published_at",
        "updated_at", "created_at")))
    common = {"body_html": "<p>x</p>", "body_text": "x", "language": "en", "word_count": 1, "licensable": True,
              "version": 1, "content_hash": "0" * 64, "published_at": when(now), "updated_at": when(now),
              "created_at": when(now), "authors": json.dumps(["Ann Writer"]), "tags": json.dumps(["gulf"])}
    try:
        with engine.begin() as connection:
            connection.execute(insert(article), [
                {**common, "id": "art_a", "slug": "a", "canonical_url": "https://x.example/a", "headline": "A",
                 "standfirst": "Standfirst A", "byline": "Ann Writer", "status": "published",
                 "embargo_until": when(now - timedelta(days=2))},
                {**common, "id": "art_b", "slug": "b", "canonical_url": "https://x.example/b", "headline": "B",
                 "standfirst": None, "byline": None, "status": "embargoed", "embargo_until": when(now + timedelta(days=2))}])
            connection.execute(text(
                "INSERT INTO asset (id, article_id, position, kind, url, caption, credit, relicensable) VALUES "
                "('ast_1', 'art_a', 0, 'image', 'https://img.example/1.jpg', 'A picture', 'Reuters', false)"))
            connection.execute(text(
                "INSERT INTO article_revision (id, article_id, version, headline, body_html, change, created_at) VALUES "
                "('rev_a', 'art_a', 1, 'A', '<p>x</p>', 'created', :now), "
                "('rev_b', 'art_b', 1, 'B', '<p>x</p>', 'created', :now)"), {"now": when(now)})
        for _round in range(2):
            command.upgrade(config, "head")
            assert schema_differences(engine) == []
            with engine.connect() as connection:
                rows = {r.id: r for r in connection.execute(text(
                    "SELECT id, standfirst, byline, authors, tags, assets FROM article_revision"))}
                lifts = dict(connection.execute(text(
                    "SELECT id, embargo_lift_recorded IS NOT NULL FROM article")).all())

            def decoded(value):
                return json.loads(value) if isinstance(value, str) else value

            assert (rows["rev_a"].standfirst, rows["rev_a"].byline) == ("Standfirst A", "Ann Writer")
            assert decoded(rows["rev_a"].authors) == ["Ann Writer"] and decoded(rows["rev_a"].tags) == ["gulf"]
            assert decoded(rows["rev_a"].assets) == [{"position": 0, "kind": "image", "url": "https://img.example/1.jpg",
                                                      "caption": "A picture", "credit": "Reuters", "relicensable": False}]
            assert (rows["rev_b"].standfirst, rows["rev_b"].byline, decoded(rows["rev_b"].assets)) == (None, None, [])
            assert lifts == {"art_a": True, "art_b": False}
            command.downgrade(config, "0020_scale")
            with engine.connect() as connection:
                columns = [r[1] for r in connection.execute(text("PRAGMA table_info(article_revision)"))] if sqlite else [
                    r[0] for r in connection.execute(text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = 'article_revision'"))]
            assert "standfirst" not in columns and "assets" not in columns
    finally:
        engine.dispose()


def test_rollups_migration_backfills_from_existing_usage_keeps_them_after_and_downgrades(
        empty_database_url: str) -> None:
    """0024_rollups_attempts on a database with usage_daily rows and an invoice: the per-licence and
    per-article rollups are filled from those rows, the triggers keep them from then on, the invoice
    starts at zero attempts; downgrading removes tables, triggers and column, upgrading again works."""
    from alembic import command

    from api.core.migrations import alembic_config

    config = alembic_config(empty_database_url)
    command.upgrade(config, "0023_outbox_done")
    engine = make_engine(empty_database_url)
    insert_daily = text("INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications) "
                        "VALUES (:day, :lic, :art, :ptn, :d, :r)")
    existing = [{"day": "2026-10-03", "lic": "lic_a", "art": "art_1", "ptn": "ptn_a", "d": 5, "r": 1},
                {"day": "2026-10-03", "lic": "lic_a", "art": "art_2", "ptn": "ptn_a", "d": 2, "r": 1},
                {"day": "2026-10-03", "lic": "lic_b", "art": "art_1", "ptn": "ptn_b", "d": 3, "r": 1},
                {"day": "2026-10-04", "lic": "lic_a", "art": "art_1", "ptn": "ptn_a", "d": 1, "r": 0}]
    try:
        with engine.begin() as connection:
            connection.execute(insert_daily, existing)
            connection.execute(text(
                "INSERT INTO partner (id, name, country, billing_email, currency, status, created_at, updated_at) "
                "VALUES ('ptn_a', 'Outlet', 'GB', 'b@o.example', 'GBP', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO invoice (id, partner_id, kind, provider, status, currency, total, amount_due, amount_paid, "
                "amount_refunded, amount_disputed, charge_key, collection_method, created_at, updated_at) VALUES "
                "('inv_1', 'ptn_a', 'period', 'ledger', 'draft', 'GBP', 0, 0, 0, 0, 0, 'period:ptn_a:2026-10', "
                "'send_invoice', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        for _round in range(2):
            command.upgrade(config, "head")
            assert schema_differences(engine) == []
            with engine.begin() as connection:
                licences = connection.execute(text(
                    "SELECT CAST(day AS TEXT), licence_id, partner_id, deliveries, republications "
                    "FROM usage_licence_daily ORDER BY 1, 2")).all()
                assert [tuple(r) for r in licences] == [("2026-10-03", "lic_a", "ptn_a", 7, 2),
                                                        ("2026-10-03", "lic_b", "ptn_b", 3, 1),
                                                        ("2026-10-04", "lic_a", "ptn_a", 1, 0)]
                articles = connection.execute(text(
                    "SELECT CAST(day AS TEXT), article_id, deliveries, republications FROM usage_article_daily "
                    "ORDER BY 1, 2")).all()
                assert [tuple(r) for r in articles] == [("2026-10-03", "art_1", 8, 2), ("2026-10-03", "art_2", 2, 1),
                                                        ("2026-10-04", "art_1", 1, 0)]
                assert connection.execute(text("SELECT issue_attempts FROM invoice")).scalar_one() == 0
                # From here on the triggers count: a new row and an upsert onto an existing one.
                connection.execute(text(
                    "INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications) "
                    "VALUES ('2026-10-04', 'lic_a', 'art_1', 'ptn_a', 4, 1), ('2026-10-05', 'lic_b', 'art_2', 'ptn_b', 1, 1) "
                    "ON CONFLICT (day, licence_id, article_id) DO UPDATE SET "
                    "deliveries = usage_daily.deliveries + excluded.deliveries, "
                    "republications = usage_daily.republications + excluded.republications"))
                assert connection.execute(text(
                    "SELECT deliveries, republications FROM usage_licence_daily "
                    "WHERE licence_id = 'lic_a' AND CAST(day AS TEXT) = '2026-10-04'")).one() == (5, 1)
                assert connection.execute(text(
                    "SELECT sum(deliveries) FROM usage_article_daily")).scalar_one() == 16
            command.downgrade(config, "0023_outbox_done")
            with engine.begin() as connection:
                names = set(sa_inspect(connection).get_table_names())
                assert not {"usage_licence_daily", "usage_article_daily"} & names
                assert "issue_attempts" not in {c["name"] for c in sa_inspect(connection).get_columns("invoice")}
                # usage_daily takes writes with no trigger left pointing at the dropped tables; this
                # puts back the rows the next round starts from.
                connection.execute(insert_daily, [{**existing[0], "day": "2026-10-09"}])
                connection.execute(text("DELETE FROM usage_daily WHERE CAST(day AS TEXT) >= '2026-10-05'"))
                connection.execute(text("UPDATE usage_daily SET deliveries = 1, republications = 0 "
                                        "WHERE CAST(day AS TEXT) = '2026-10-04'"))
    finally:
        engine.dispose()
