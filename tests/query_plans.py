"""Query plans of the statements a service function really runs (SQLite's EXPLAIN QUERY PLAN).

`captured(session)` records every SELECT run on the session's connection, with its parameters;
`plan_problems` names each step of their plans that reads a whole table or sorts in a temporary
B-tree, which is what a list endpoint must not do once the table is large.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from tests.conftest import TEST_DATABASE_URL

# EXPLAIN QUERY PLAN is SQLite's; PostgreSQL keeps statistics and chooses its own plans.
sqlite_only = pytest.mark.skipif((TEST_DATABASE_URL or "").startswith("postgres"),
                                 reason="reads SQLite's EXPLAIN QUERY PLAN")


@contextmanager
def captured(session: Session) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []
    connection = session.connection()

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", record)


def plan(session: Session, statement: str, parameters: Any) -> list[str]:
    rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [str(row[-1]) for row in rows]


def plan_problems(session: Session, statements: list[tuple[str, Any]], *, search: bool) -> list[str]:
    """Steps that scan a table without an index or sort in a temporary B-tree. With `search`, a
    query that filters must also seek its index (`SEARCH ... USING INDEX`), not walk all of it."""
    assert statements, "the function ran no SELECT"
    problems = []
    for statement, parameters in statements:
        steps = plan(session, statement, parameters)
        for step in steps:
            bad = "TEMP B-TREE" in step or (step.startswith("SCAN") and "INDEX" not in step) or (
                search and step.startswith("SCAN"))
            if bad:
                problems.append(f"{step}  <-  {' '.join(statement.split())[:300]}")
    return problems


# The tables' statistics as a fresh database has them: no column statistics, and sizes never measured.
_FRESH_STATISTICS = (
    "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace)",
    "UPDATE pg_class SET relpages = 0, reltuples = -1, relallvisible = 0 WHERE relnamespace = current_schema()::regnamespace",
)


def _settle_the_planner(connection, *, sorts: bool) -> None:
    """PostgreSQL plans from statistics, and under pytest-xdist a worker's database holds whatever its
    earlier tests made autovacuum gather (TRUNCATE keeps both the column statistics and the measured
    sizes). Put back as on a fresh database for this transaction only (the test rolls it back), so a
    plan does not depend on which tests ran before. Sequential scans (and without `sorts`, sorts) are
    priced out too, so on the tests' tiny tables the plan shows the index it would use, and a Sort
    only where no index gives the order."""
    for statement in _FRESH_STATISTICS:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    if not sorts:
        connection.exec_driver_sql("SET LOCAL enable_sort = off")


def statement_plan(session: Session, stmt) -> str:
    """The plan of a SQLAlchemy statement on either database, as text (on PostgreSQL, see
    `_settle_the_planner`)."""
    from sqlalchemy import text

    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if session.get_bind().dialect.name == "postgresql":
        _settle_the_planner(session.connection(), sorts=True)
        return "\n".join(r[0] for r in session.exec(text(f"EXPLAIN {compiled}")).all())
    return "\n".join(str(r[-1]) for r in session.exec(text(f"EXPLAIN QUERY PLAN {compiled}")).all())


def list_problems(session: Session, function, kwargs: dict[str, Any], *, search: bool) -> list[str]:
    """`plan_problems` of every SELECT that calling the list `function(session, **kwargs)` runs."""
    with captured(session) as statements:
        function(session, **kwargs)
    return plan_problems(session, statements, search=search)


def explain(session: Session, statement: str, parameters: Any) -> str:
    """The plan of a captured statement on either database, as text (on PostgreSQL, see
    `_settle_the_planner`)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _settle_the_planner(connection, sorts=False)
        return "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters).all())
    return "\n".join(str(r[-1]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all())


def list_plans(session: Session, function, kwargs: dict[str, Any]) -> list[str]:
    """`explain` of every SELECT that calling `function(session, **kwargs)` runs, on either database."""
    with captured(session) as statements:
        function(session, **kwargs)
    assert statements, "the function ran no SELECT"
    return [explain(session, statement, parameters) for statement, parameters in statements]


@contextmanager
def counted(engine) -> Iterator[list[str]]:
    """Every statement run on `engine` (and the engines derived from it, such as `read_only`'s) meanwhile."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
