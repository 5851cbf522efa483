"""A lock held past `db_lock_timeout_seconds` is a 503 the client may retry, with nothing written;
a real schema error stays a 500. Both databases, with a real lock held by a second connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.core.problems import database_fault
from tests.builders import make_api_key, make_partner
from tests.conftest import make_settings


@pytest.fixture
def impatient_client(app, settings) -> Iterator[TestClient]:
    """The app with a 0.3 s lock timeout, on the suite's database (`app` made the tables)."""
    impatient = create_app(make_settings(settings.database_url, db_lock_timeout_seconds=0.3), run_worker=False)
    with TestClient(impatient, raise_server_exceptions=False) as client:
        yield client
    impatient.state.engine.dispose()


@contextmanager
def partner_row_locked(test_engine, partner_id: str) -> Iterator[None]:
    """Another transaction holding what a write to this partner needs: SQLite's write lock (the
    database has one), PostgreSQL's row lock."""
    if test_engine.dialect.name == "sqlite":
        holder = sqlite3.connect(test_engine.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with test_engine.connect() as connection:
        connection.execute(text("SELECT id FROM partner WHERE id = :id FOR UPDATE"), {"id": partner_id})
        yield
        connection.rollback()


def test_a_write_that_waits_on_a_lock_too_long_is_a_503_and_writes_nothing(impatient_client, session, test_engine):
    partner = make_partner(session, name="Before Outlet")
    headers = {"X-API-Key": make_api_key(session, partner)}
    session.commit()
    with partner_row_locked(test_engine, partner.id):
        response = impatient_client.patch("/v1/partners/me", json={"name": "After Outlet"}, headers=headers)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    problem = response.json()
    assert problem["type"] == "/problems/database-busy" and "nothing was stored" in problem["detail"]
    assert impatient_client.get("/v1/partners/me", headers=headers).json()["name"] == "Before Outlet"
    retried = impatient_client.patch("/v1/partners/me", json={"name": "After Outlet"}, headers=headers)
    assert retried.status_code == 200 and retried.json()["name"] == "After Outlet"


def test_only_locks_and_lost_connections_count_as_database_faults() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection, pytest.raises(OperationalError) as schema_error:
        connection.execute(text("SELECT * FROM no_such_table"))
    assert database_fault(schema_error.value) is None  # a bug, not a fault to retry: stays a 500


def test_the_busy_problem_is_documented(client) -> None:
    page = client.get("/problems/database-busy")
    assert page.status_code == 200 and "Retry-After" in page.json()["description"]
