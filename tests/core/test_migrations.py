"""The migrations, run on an empty database, produce exactly the models' schema."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
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
