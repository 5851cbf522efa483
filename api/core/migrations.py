"""Alembic, driven from code: the migrations ship inside the package."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def stamp(database_url: str, revision: str = "head") -> None:
    command.stamp(alembic_config(database_url), revision)


@cache
def head_revision(database_url: str) -> str | None:
    """The latest migration this code has. Reading it loads every migration module (a few hundred ms
    at start, and on every /readyz); the answer cannot change while the process runs."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class UnmigratedDatabase(RuntimeError):
    """The database is not at the migration this code needs (the message says what to run)."""


def require_current(engine: Engine, database_url: str) -> None:
    """Refuse to work on a database whose schema this code was not written for: the server at start,
    and every CLI command that touches the database, say the same thing."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:") \
            and not Path(engine.url.database).exists():
        current = None  # do not leave an empty database file behind just to find it empty
    else:
        current = current_revision(engine)
    head = head_revision(database_url)
    if current != head:
        raise UnmigratedDatabase(
            f"The database at {engine.url.render_as_string(hide_password=True)} is at migration "
            f"{current or 'none'}, but this version of Syndicate needs {head}. "
            "Run `syndicate db upgrade` first."
        )
