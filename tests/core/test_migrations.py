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
