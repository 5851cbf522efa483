"""/healthz, /readyz and /problems/{slug}: readiness failures are problems, and every problem type
the app can answer with is documented."""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import api
from api.app import create_app
from api.core.db import read_only
from api.core.errors import SyndicateError
from tests.conftest import TEST_DATABASE_URL, make_settings


def _client_for(database_url: str) -> TestClient:
    # No lifespan (no `with`): the app would refuse to start on these databases, which is the point.
    return TestClient(create_app(make_settings(database_url), run_worker=False), raise_server_exceptions=False)


def test_readyz_on_an_unmigrated_database_is_503_database_unmigrated(tmp_path: Path) -> None:
    client = _client_for(f"sqlite:///{tmp_path / 'empty.db'}")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/database-unmigrated" and body["status"] == 503
    assert "syndicate db upgrade" in body["detail"] and body["instance"] == "/readyz"
    assert "current" not in body and body["required"] and "at migration none" in body["detail"]


def test_readyz_on_an_unreachable_database_is_503_database_unreachable() -> None:
    client = _client_for("postgresql+psycopg://syndicate:secret-pw@127.0.0.1:1/syndicate")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/database-unreachable" and body["title"] == "Database unreachable"
    assert "OperationalError" in body["detail"] and "secret-pw" not in response.text and "127.0.0.1" not in response.text


def test_healthz_and_readyz_answer_with_their_documented_bodies(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.skipif((TEST_DATABASE_URL or "").startswith("postgres"),
                    reason="SQLite's single write lock is what this is about; PostgreSQL readers never wait for it")
def test_readyz_and_public_reads_do_not_wait_for_the_sqlite_write_lock(client, settings) -> None:
    path = settings.database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, timeout=1, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    answers: dict[str, int] = {}

    def probe() -> None:
        answers["readyz"] = client.get("/readyz").status_code
        answers["articles"] = client.get("/v1/articles").status_code

    worker = threading.Thread(target=probe, daemon=True)
    try:
        worker.start()
        worker.join(timeout=10)
        assert answers == {"readyz": 200, "articles": 200}, "a read waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        worker.join(timeout=60)


def test_read_only_connections_refuse_writes_and_writers_are_unaffected(engine) -> None:
    with read_only(engine).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staff_user")).scalar_one() == 0
        with pytest.raises(DBAPIError):
            connection.execute(text("INSERT INTO article_tag (article_id, tag) VALUES ('art_x', 'x')"))
    with engine.begin() as connection:  # the same pooled connection, a writer again
        connection.execute(text("DELETE FROM article_tag WHERE tag = 'x'"))


def _every_problem_class() -> set[type[SyndicateError]]:
    for module in pkgutil.walk_packages(api.__path__, "api."):
        if ".migrations" not in module.name and not module.name.endswith("main"):
            importlib.import_module(module.name)
    found, pending = set(), [SyndicateError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.add(sub)
            pending.append(sub)
    return found


BUILT_IN = ("validation", "internal", "http-error", "bad-request", "unauthenticated", "forbidden", "not-found",
            "method-not-allowed", "not-acceptable", "conflict", "gone", "payload-too-large", "unsupported-media-type",
            "rate-limited", "database-unreachable", "database-unmigrated", "invalid-data")


def test_every_problem_type_the_app_can_answer_with_is_documented(client) -> None:
    classes = _every_problem_class()
    slugs = {cls.slug for cls in classes} | set(BUILT_IN)
    by_slug: dict[str, set[int]] = {}
    for cls in classes:
        by_slug.setdefault(cls.slug, set()).add(cls.status)
    assert {s: v for s, v in by_slug.items() if len(v) > 1} == {}, "one problem type, two statuses"
    for slug in sorted(slugs):
        response = client.get(f"/problems/{slug}")
        assert response.status_code == 200, slug
        assert response.json()["type"] == f"/problems/{slug}"
        assert response.json()["description"], f"{slug} has no description: give its class a docstring"
    missing = client.get("/problems/no-such-type")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"


def test_http_layer_errors_use_registered_types(client) -> None:
    wrong_method = client.delete("/v1/articles")
    assert wrong_method.status_code == 405 and wrong_method.json()["type"] == "/problems/method-not-allowed"
    assert wrong_method.headers["allow"]
    documented = client.get(wrong_method.json()["type"])
    assert documented.status_code == 200 and documented.json()["status"] == 405


def test_a_value_the_database_refuses_is_a_problem_not_a_500(client, settings) -> None:
    response = client.get("/v1/articles", params={"section": "news\x00"})
    if settings.is_sqlite:  # SQLite compares text holding NUL like any other and finds nothing
        assert response.status_code == 200 and response.json()["items"] == [], response.text
    else:  # PostgreSQL refuses text holding NUL
        assert response.status_code == 422 and response.json()["type"] == "/problems/invalid-data", response.text
