"""`serve --demo` loads its data on every start: a second run must not duplicate anything."""

from __future__ import annotations

from sqlalchemy import func, select

from api.core.db import metadata
from api.demo.loader import DEMO_PASSWORD, load_demo


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables}


def test_loading_the_demo_twice_leaves_the_same_rows(engine, settings) -> None:
    first = load_demo(engine, settings)
    after_first = _counts(engine)
    second = load_demo(engine, settings)
    after_second = _counts(engine)
    assert after_second == after_first
    assert after_first["staff_user"] == 4 and after_first["article"] >= 3 and after_first["partner"] == 1
    assert after_first["licence"] == 1 and after_first["api_key"] == 1
    # The same accounts are printed each time; only the freshly issued API key differs.
    assert [l for l in first if "X-API-Key" not in l] == [l for l in second if "X-API-Key" not in l]
    assert any(f"password {DEMO_PASSWORD}" in line for line in first)
