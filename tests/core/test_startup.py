"""What a server starts once it listens (api/core/startup.py): the in-process worker, the cache
preload and the login timing equaliser wait for the socket, and /readyz says so meanwhile."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.core import passwords, startup
from tests.conftest import make_settings

WORKER_THREAD = "syndicate-worker"


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER_THREAD]


def _until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_worker_starts_after_the_application_started_not_during_it(engine, database_url, monkeypatch) -> None:
    monkeypatch.setattr(startup, "FALLBACK_SECONDS", 60)  # only the first request can start it here
    before = len(_worker_threads())
    with TestClient(create_app(make_settings(database_url), run_worker=True)) as client:
        assert len(_worker_threads()) == before, "the worker started before the server could listen"
        assert client.get("/readyz").json() == {"status": "ready"}  # the first request proves it listens
        assert len(_worker_threads()) == before + 1
    assert _until(lambda: len(_worker_threads()) == before)


def test_readyz_answers_starting_until_the_work_after_listening_is_done(engine, database_url, monkeypatch) -> None:
    import api.health

    monkeypatch.setattr(api.health, "STARTING_PATIENCE_SECONDS", 0.2)
    release = threading.Event()
    application = create_app(make_settings(database_url), run_worker=False)

    async def slow_start() -> None:
        await asyncio.to_thread(release.wait, 30)

    application.state.after_listening_hooks.append(slow_start)
    with TestClient(application, raise_server_exceptions=False) as client:
        try:
            starting = client.get("/readyz")
            assert starting.status_code == 503 and starting.headers["retry-after"] == "1"
            assert starting.headers["content-type"] == "application/problem+json"
            assert starting.json()["type"] == "/problems/starting"
            assert client.get("/healthz").json() == {"status": "ok"}  # alive all along
        finally:
            release.set()
        assert _until(lambda: client.get("/readyz").status_code == 200)


def test_readyz_says_so_when_the_work_after_listening_failed(engine, database_url) -> None:
    application = create_app(make_settings(database_url), run_worker=False)

    async def broken() -> None:
        raise RuntimeError("no")

    application.state.after_listening_hooks.append(broken)
    with TestClient(application, raise_server_exceptions=False) as client:
        failed = client.get("/readyz")
        assert failed.status_code == 503 and "failed" in failed.json()["detail"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_uvicorn_starts_the_worker_once_it_has_bound_its_socket(engine, database_url, monkeypatch) -> None:
    """What `syndicate serve` does: uvicorn's callback_notify, with no request needed."""
    monkeypatch.setattr(startup, "FALLBACK_SECONDS", 60)
    before = len(_worker_threads())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_settings(database_url), run_worker=True), host="127.0.0.1",
                                           port=port, log_level="warning", callback_notify=startup.server_listening))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        assert _until(lambda: server.started), "the server did not start"
        assert _until(lambda: len(_worker_threads()) == before + 1), "the worker did not start once listening"
    finally:
        server.should_exit = True
        serving.join(timeout=30)
    assert _until(lambda: len(_worker_threads()) == before)


@pytest.fixture
def stronger_hashing():
    """Another cost than the suite's, so the equaliser for it is made afresh; restored after."""
    before = passwords.current_parameters()
    passwords.configure(make_settings("sqlite://", password_hash_time_cost=2, password_hash_memory_kib=16))
    yield
    passwords.configure(make_settings("sqlite://", password_hash_time_cost=before["time_cost"],
                                      password_hash_memory_kib=before["memory_kib"],
                                      password_hash_parallelism=before["parallelism"]))


def test_the_login_timing_equaliser_is_made_when_first_needed_not_at_start(stronger_hashing) -> None:
    assert not passwords.has_dummy_hash()  # choosing a cost (what every start does) hashes nothing
    assert passwords.verify_password(None, "a password for nobody") is False  # an unknown e-mail
    assert passwords.has_dummy_hash()


def test_the_server_makes_the_equaliser_once_it_listens(engine, database_url) -> None:
    settings = make_settings(database_url, password_hash_time_cost=2, password_hash_memory_kib=24)
    try:
        with TestClient(create_app(settings, run_worker=False)) as client:
            assert not passwords.has_dummy_hash()
            assert client.get("/readyz").status_code == 200
            assert passwords.has_dummy_hash()
    finally:
        passwords.configure(make_settings(database_url))
