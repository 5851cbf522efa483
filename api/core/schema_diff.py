"""Compare a migrated database with the models (used by tests and `syndicate db check`).

The metadata holds the tables of the modules imported so far: callers import `api.models` (every
table) first, so this core module needs no domain."""

from __future__ import annotations

import re
import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from api.core.db import metadata


def comparison_filters(dialect: str) -> dict[str, Any]:
    """Alembic options that leave out what the metadata deliberately does not manage: tables named in
    `metadata.info["unmanaged_tables"]` (SQLite's FTS5 search table and its shadows, made by DDL
    events), tables matching `metadata.info["unmanaged_table_patterns"]` (PostgreSQL's partitions of
    the usage log, made by its jobs) and schema items marked `info["only_on"]` for another database."""
    unmanaged = metadata.info.get("unmanaged_tables", set())
    patterns = [re.compile(p) for p in metadata.info.get("unmanaged_table_patterns", ())]

    def include_name(name, type_, _parent_names) -> bool:
        return not (type_ == "table" and (name in unmanaged or any(p.fullmatch(name) for p in patterns)))

    def include_object(item, _name, _type, _reflected, _compare_to) -> bool:
        return getattr(item, "info", {}).get("only_on", dialect) == dialect

    return {"include_name": include_name, "include_object": include_object}


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection, warnings.catch_warnings():
        # Alembic warns that SQLite cannot compare an expression index before include_object leaves it out.
        warnings.filterwarnings("ignore", message="autogenerate skipping metadata-specified expression-based index")
        opts = {"compare_type": True, **comparison_filters(engine.dialect.name)}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, metadata))
