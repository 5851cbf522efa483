"""Test fixtures: a real database (SQLite file, or PostgreSQL from SYNDICATE_TEST_DATABASE_URL),
a real app, and builders that go through the services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

import api.models  # noqa: F401
from api.audit.models import APPEND_ONLY_TABLES
from api.app import create_app
from api.core.config import Settings, get_settings
from api.core.db import metadata
from api.core.migrations import stamp

TEST_DATABASE_URL = os.environ.get("SYNDICATE_TEST_DATABASE_URL")

# Keeps the assertion-rewritten test modules between runs and workers (this environment writes no .pyc).
pytest_plugins = ("tests.rewrite_cache",)


def pytest_runtest_setup(item) -> None:
    """`@pytest.mark.postgres_only` tests prove behaviour under truly concurrent writers, which
    SQLite (one writer at a time, BEGIN IMMEDIATE) cannot exhibit; CI runs them on PostgreSQL."""
    if item.get_closest_marker("postgres_only") and not (TEST_DATABASE_URL or "").startswith("postgres"):
        pytest.skip("needs concurrent writers: runs on PostgreSQL (SYNDICATE_TEST_DATABASE_URL)")


# Workers per core for the whole suite: its tests wait on servers, sockets and databases as much as
# they compute, so two per core keep both cores busy (measured in the README's test section).
WORKERS_PER_CORE = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config) -> None:
    """The whole suite (`pytest` with no paths: the README's command, .ci/run) is spread over
    WORKERS_PER_CORE pytest-xdist workers per core, each file kept on one worker (its module fixtures,
    such as the shared Chromium, start once) except those of SPREAD_BY_TEST. A run of chosen paths
    stays in one process unless it asks with `-n`: starting workers would cost it more than they save.
    `-n 0` or `-p no:xdist` runs serially."""
    if (not hasattr(config.option, "numprocesses") or hasattr(config, "workerinput")
            or config.option.numprocesses is not None or config.args_source != pytest.Config.ArgsSource.TESTPATHS):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    config.option.numprocesses = WORKERS_PER_CORE * cores
    if config.option.dist == "no":
        config.option.dist = "loadfile"
        if hasattr(config.option, "loadscopereorder"):
            config.option.loadscopereorder = False  # keep SLOWEST_FIRST's order, not the files' test counts


# Files whose tests are handed to workers one by one rather than the whole file to one worker: each
# of their tests is long, and they share nothing costly to start.
SPREAD_BY_TEST = ("tests/test_schemathesis.py",)


def pytest_xdist_make_scheduler(config, log):
    if config.option.dist != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesExceptSpreadByTest(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid.split("[", 1)[0] if path in SPREAD_BY_TEST else path

    return FilesExceptSpreadByTest(config, log)


# Under pytest-xdist, the files that take longest go first, longest first: a worker that drew one of
# them late would run it alone while the others sat idle. Ordered by their seconds in a whole run's
# `--durations` (staff schemathesis ~90 s, the portal's browser tests ~56 s, ... the CLI's ~20 s);
# an entry is a path or a test's node id prefix. A plain run keeps the usual order.
SLOWEST_FIRST = (
    "tests/test_schemathesis.py::test_each_staff_operation", "tests/portal/test_browser.py",
    "tests/console/test_browser.py", "tests/benchmarks/test_realistic_smoke.py",
    "tests/console/test_every_page_browser.py", "tests/benchmarks/test_delivery_smoke.py",
    "tests/test_schemathesis.py::test_each_partner", "tests/benchmarks/test_longpoll_smoke.py",
    "tests/test_schemathesis.py::test_each_public", "tests/benchmarks/test_api_flood_smoke.py",
    "tests/delivery/test_key_retirement.py", "tests/test_cli.py", "tests/core/test_migrations.py",
    "tests/core/test_api_limits.py", "tests/core/test_passwords.py", "tests/test_schemathesis.py",
    "tests/benchmarks/", "tests/console/test_session_browser.py", "tests/staff/test_permissions.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    def rank(item) -> int:
        return next((i for i, slow in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(slow)), len(SLOWEST_FIRST))
    items.sort(key=rank)  # stable: the order within each rank is kept


def pytest_report_header(config) -> str:
    return f"syndicate database: {TEST_DATABASE_URL or 'sqlite (temporary file)'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """SQLite: a file in the run's (under pytest-xdist, the worker's) temporary directory. PostgreSQL:
    the database SYNDICATE_TEST_DATABASE_URL names; under pytest-xdist each worker gets a database of
    its own beside it (`<name>_gw0`, ...), made for the run and dropped at its end."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'syndicate-test.db'}"
        return
    url = Settings(database_url=TEST_DATABASE_URL).database_url
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        yield url
        return
    with _worker_database(url, worker) as own:
        yield own


@contextmanager
def _worker_database(url: str, worker: str) -> Iterator[str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:  # a run stopped short may have left it behind
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The cheapest Argon2 the settings allow: production strength costs tens of milliseconds of CPU per
# staff login, paid hundreds of times a run. tests/core/test_passwords.py checks production's cost.
CHEAP_PASSWORD_HASHING = dict(password_hash_time_cost=1, password_hash_memory_kib=8, password_hash_parallelism=1)
# The same for a server or CLI the tests start as a process of its own (it reads its environment).
CHEAP_PASSWORD_HASHING_ENV = {f"SYNDICATE_{name.upper()}": str(value) for name, value in CHEAP_PASSWORD_HASHING.items()}


def make_settings(database_url: str, **overrides) -> Settings:
    values = dict(
        database_url=database_url, environment="test", run_worker_in_process=False,
        public_base_url="https://syndicate.test", secret_key="test-secret-key-which-is-long-enough",
        email_sender="log",
        # The suite logs in hundreds of times from one test client; tests/staff checks the real limit.
        login_rate_limit="100000/minute",
        # Likewise the JSON API's limits (the suite's requests all come from one address);
        # tests/core/test_api_limits.py checks the real ones.
        address_rate_limit="", api_key_rate_limit="", anonymous_rate_limit="",
        # Tests of cache misses need the miss; tests/delivery/test_preload.py preloads by itself.
        delivery_preload=False,
        **CHEAP_PASSWORD_HASHING,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    application = create_app(settings, run_worker=False)
    engine = application.state.engine
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        metadata.create_all(connection)
    stamp(settings.database_url)
    return application


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> Engine:
    return app.state.engine


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                if table in APPEND_ONLY_TABLES:  # its triggers refuse DELETE: start it afresh
                    metadata.tables[table].drop(connection)
                    metadata.tables[table].create(connection)
                else:
                    connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture(autouse=True)
def _clean_database(request) -> Iterator[None]:
    """Every test starts from empty tables (a test that needs no database pays nothing)."""
    uses_database = "engine" in request.fixturenames or "app" in request.fixturenames
    engine = request.getfixturevalue("engine") if uses_database else None  # before the test: pytest 9 wants it so
    yield
    if engine is not None:
        _truncate(engine)


@pytest.fixture(scope="session")
def test_engine(app: FastAPI, settings: Settings) -> Iterator[Engine]:
    """The tests' own engine. On SQLite its transactions start deferred, so a test that reads rows
    between requests does not hold the write lock the app's requests need."""
    from api.core.db import make_engine

    own = make_engine(settings.database_url, immediate=False)
    yield own
    own.dispose()


@pytest.fixture
def session(test_engine: Engine) -> Iterator[Session]:
    """A session for building data; commit it before calling the API so requests see the rows."""
    with Session(test_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# Copies of the product's sample article page and of the IPTC ninjs and Stripe fixtures (MIT, their LICENSE
# files beside them), so a fresh clone tests with nothing outside the repository.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = FIXTURES / "samples"
STANDARDS = FIXTURES / "standards"


# Rich wraps the CLI's messages at the terminal's width: a wide one keeps long temporary paths whole.
cli_runner = CliRunner(env={"COLUMNS": "400"})


@pytest.fixture
def production_password_hashing(settings: Settings) -> Iterator[None]:
    """Argon2 at production strength for one test (one that needs hashing to take real time)."""
    from api.core import passwords
    from api.core.config import PRODUCTION_PASSWORD_HASHING

    passwords.configure(settings.model_copy(update={f"password_hash_{k}": v for k, v in PRODUCTION_PASSWORD_HASHING.items()}))
    yield
    passwords.configure(settings)


@pytest.fixture
def cli_env(monkeypatch, database_url: str, engine: Engine) -> Iterator[None]:
    """The CLI builds its settings from the environment: point it at the migrated test database."""
    monkeypatch.setenv("SYNDICATE_DATABASE_URL", database_url)
    for name, value in CHEAP_PASSWORD_HASHING_ENV.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One Chromium for the browser tests of a module: starting Playwright and the browser costs
    seconds each time. Not one per run: Playwright's sync API keeps an event loop running in this
    thread until it stops, and the async tests of other modules need the thread's loop free. Tests
    open their own contexts through `tests.browser_checks.own_browser`."""
    from playwright.sync_api import sync_playwright

    from tests.browser_checks import ARGS, CHROMIUM

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def stalled_redis():
    """A Redis URL whose server takes connections and never answers (a stalled Redis), and the
    connections it took, so a test can see who asked it."""
    import socket
    import threading

    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def take_and_ignore() -> None:
        while True:
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=take_and_ignore, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{silent.getsockname()[1]}/0", accepted
    finally:
        silent.close()
        for connection in accepted:
            connection.close()
