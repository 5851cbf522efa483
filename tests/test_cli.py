"""The `syndicate` command: help everywhere, and the server refuses an unmigrated database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import CHEAP_PASSWORD_HASHING_ENV


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, path + (name,))
    yield from walk(click_group, prefix)


@pytest.mark.parametrize("path", list(_commands(app)), ids=lambda p: " ".join(p) or "syndicate")
def test_every_command_has_help(path) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_serve_refuses_an_unmigrated_database(tmp_path) -> None:
    env = {"SYNDICATE_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "1"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "syndicate db upgrade" in result.stderr


def test_db_upgrade_then_current(tmp_path) -> None:
    env = {"SYNDICATE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "PATH": "/usr/bin:/bin"}
    upgraded = subprocess.run([sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
    current = subprocess.run([sys.executable, "-m", "api.cli", "db", "current"], env=env, capture_output=True, text=True, timeout=60)
    lines = dict(line.split(":", 1) for line in current.stdout.strip().splitlines())
    assert lines["current"].strip() == lines["latest"].strip() != "none"


# --- commands on a database that is not migrated or not reachable ----------------------------

DB_COMMANDS = [
    ["staff", "create", "--email", "new@example.com", "--name", "New", "--role", "admin", "--password", "x" * 16],
    ["import", "{sample}"],
    ["partners", "list"],
    ["licences", "expire"],
    ["keys", "list"],
    ["keys", "retire", "kid_x"],
    ["invoicing", "reconcile"],
    ["worker", "--once"],
]


def _cli_env(monkeypatch, url: str) -> None:
    from api.core.config import get_settings

    monkeypatch.setenv("SYNDICATE_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.fixture
def _fresh_settings():
    from api.core.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("args", DB_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_database_commands_refuse_an_unmigrated_database_with_the_servers_message(
        args, tmp_path, monkeypatch, _fresh_settings) -> None:
    from api.core.migrations import head_revision
    from tests.conftest import SAMPLES

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    _cli_env(monkeypatch, url)
    args = [a.replace("{sample}", str(SAMPLES / "mee-article-putin-syria.txt")) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"is at migration none, but this version of Syndicate needs {head_revision(url)}" in result.output
    assert "Run `syndicate db upgrade` first." in result.output and "Traceback" not in result.output


def test_an_unreachable_database_is_a_clear_message(monkeypatch, _fresh_settings) -> None:
    _cli_env(monkeypatch, "postgresql://syndicate:hidden-password@127.0.0.1:1/syndicate")
    result = CliRunner().invoke(app, ["partners", "list"])
    assert result.exit_code == 2
    assert "cannot reach the database at postgresql+psycopg://syndicate:***@127.0.0.1:1/syndicate" in result.output
    assert "hidden-password" not in result.output


def test_help_needs_no_database(monkeypatch, _fresh_settings) -> None:
    _cli_env(monkeypatch, "postgresql://syndicate@127.0.0.1:1/syndicate")
    for args in (["partners", "list", "--help"], ["partners"], ["import", "--help"]):
        result = CliRunner().invoke(app, args)
        assert "Usage" in result.output and "cannot reach" not in result.output, (args, result.output)


# --- staff create ------------------------------------------------------------------------------


def test_staff_create_makes_a_user_whose_password_verifies_and_refuses_a_duplicate(
        monkeypatch, database_url, engine, _fresh_settings) -> None:
    from sqlmodel import Session, select

    from api.core.passwords import verify_password
    from api.staff.models import StaffUser

    _cli_env(monkeypatch, database_url)
    args = ["staff", "create", "--email", "Desk@Example.com", "--name", "Desk", "--role", "licensing",
            "--role", "finance", "--password", "a-long-passphrase"]
    created = CliRunner().invoke(app, args)
    assert created.exit_code == 0, created.output
    assert "<desk@example.com> roles=finance,licensing" in created.output
    with Session(engine) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == "desk@example.com")).one()
    assert user.password_hash.startswith("$argon2id$") and verify_password(user.password_hash, "a-long-passphrase")
    assert not verify_password(user.password_hash, "a-long-passphrasE")
    duplicate = CliRunner().invoke(app, [*args[:2], "--email", "desk@example.com", *args[4:]])
    assert duplicate.exit_code == 2
    assert "error: desk@example.com already has a staff account." in duplicate.output
    with Session(engine) as session:
        assert len(session.exec(select(StaffUser)).all()) == 1
    bad_role = CliRunner().invoke(app, [*args[:2], "--email", "other@example.com", "--name", "O", "--role", "wizard",
                                        "--password", "a-long-passphrase"])
    assert bad_role.exit_code == 2 and "Unknown role(s): wizard" in bad_role.output


# --- serve --demo ------------------------------------------------------------------------------


def test_serve_demo_is_refused_in_production(monkeypatch, tmp_path, _fresh_settings) -> None:
    _cli_env(monkeypatch, f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("SYNDICATE_ENVIRONMENT", "production")
    monkeypatch.setenv("SYNDICATE_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SYNDICATE_PUBLIC_BASE_URL", "https://licensing.example.com")
    result = CliRunner().invoke(app, ["serve", "--demo", "--port", "1"])
    assert result.exit_code == 2
    assert "--demo" in result.output and "SYNDICATE_ENVIRONMENT=production" in result.output
    assert not (tmp_path / "prod.db").exists() or (tmp_path / "prod.db").stat().st_size == 0  # nothing migrated


def test_serve_refuses_several_workers_without_redis_in_production(monkeypatch, tmp_path, _fresh_settings) -> None:
    """Without Redis every worker would count its own rate limits: N workers, N times every limit."""
    _cli_env(monkeypatch, f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("SYNDICATE_ENVIRONMENT", "production")
    monkeypatch.setenv("SYNDICATE_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SYNDICATE_PUBLIC_BASE_URL", "https://licensing.example.com")
    monkeypatch.delenv("SYNDICATE_REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", "1"])
    assert result.exit_code == 2
    assert "SYNDICATE_REDIS_URL" in result.output and "--workers 2" in result.output


def test_production_refuses_an_http_public_url_at_start_up(monkeypatch, tmp_path, _fresh_settings) -> None:
    _cli_env(monkeypatch, f"sqlite:///{tmp_path / 'prod.db'}")
    monkeypatch.setenv("SYNDICATE_ENVIRONMENT", "production")
    monkeypatch.setenv("SYNDICATE_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("SYNDICATE_PUBLIC_BASE_URL", "http://licensing.example.com")
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2 and "SYNDICATE_PUBLIC_BASE_URL" in result.output
    assert "SYNDICATE_ALLOW_INSECURE_PUBLIC_URL" in result.output and "Traceback" not in result.output


def test_invalid_settings_are_a_clear_message(monkeypatch, _fresh_settings) -> None:
    monkeypatch.setenv("SYNDICATE_ENVIRONMENT", "production")
    monkeypatch.delenv("SYNDICATE_SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["partners", "list"])
    assert result.exit_code == 2 and "SYNDICATE_SECRET_KEY must be set" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_demo_prints_where_it_listens_and_the_demo_credentials(tmp_path) -> None:
    import httpx

    from api.demo.loader import DEMO_PASSWORD

    port = _free_port()
    # Cheap Argon2: the demo's staff are hashed as it starts (tests/core/test_passwords checks production's cost).
    env = {"SYNDICATE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "PATH": "/usr/bin:/bin",
           "SYNDICATE_RUN_WORKER_IN_PROCESS": "false", "PYTHONUNBUFFERED": "1", **CHEAP_PASSWORD_HASHING_ENV}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)
            if "listening on" in line or len(lines) > 200:
                break
        printed = "".join(lines)
        assert f"Syndicate listening on http://127.0.0.1:{port}" in printed, printed
        assert f"staff licensing@syndicate.local" in printed and f"password {DEMO_PASSWORD}" in printed
        assert "X-API-Key: synd_" in printed
        for _attempt in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            import time

            time.sleep(0.1)
        login = httpx.post(f"http://127.0.0.1:{port}/v1/staff/login", timeout=10,
                           json={"email": "licensing@syndicate.local", "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        # The banner tells the truth: its key works, its money is formatted, and absolute URLs follow --port.
        key = printed.split("X-API-Key: ", 1)[1].split()[0]
        assert httpx.get(f"http://127.0.0.1:{port}/v1/partners/me", headers={"X-API-Key": key}, timeout=10).status_code == 200
        assert "minor units" not in printed and " GBP)" in printed
        servers = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()["servers"]
        assert servers == [{"url": f"http://127.0.0.1:{port}"}]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_db_check_reports_drift(monkeypatch, tmp_path, _fresh_settings) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'drift.db'}"
    _cli_env(monkeypatch, url)
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    clean = CliRunner().invoke(app, ["db", "check"])
    assert clean.exit_code == 0 and "matches the models" in clean.output
    with sqlite3.connect(tmp_path / "drift.db") as connection:
        connection.execute("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
        connection.execute("DROP INDEX ix_article_sync")
    drift = CliRunner().invoke(app, ["db", "check"])
    assert drift.exit_code == 1
    assert "remove_table" in drift.output and "stray" in drift.output and "ix_article_sync" in drift.output
