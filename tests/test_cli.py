"""The `syndicate` command: help everywhere, and the server refuses an unmigrated database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from api.cli import app


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
