"""The usage writer's PostgreSQL backend: one asyncio psycopg connection, one statement per batch.

psycopg directly rather than SQLAlchemy because the statement is sent from the event loop and its
parameters are built there: each batch is ONE atomic statement in autocommit mode, committed in one
round trip while the loop keeps serving (and gathering the next batch).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from api.delivery.usage_rows import COLUMNS, Usage, usage_ids

if TYPE_CHECKING:
    import psycopg

# Each column travels as ONE text parameter holding an array literal ('{a,b,c}') that the writer
# joins itself: psycopg's list dumper costs ~5 µs per row on the event loop, a join almost nothing.
# Both statements are prepared once per connection. Parameters: the eight arrays, then the batch's
# instant.
_BATCH = """batch AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::bool[])
        AS b(id, licence_id, partner_id, article_id, article_version, format, token_id, billable)
), instant AS (SELECT %s::timestamptz AS at)"""
# The rollup rows are upserted in key order, so two API workers' writers take their row locks in
# the same order and cannot deadlock each other.
_DAILY = """INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications)
SELECT (instant.at AT TIME ZONE 'UTC')::date, licence_id, article_id, min(partner_id), count(*), {republications}
FROM batch, instant GROUP BY instant.at, licence_id, article_id ORDER BY licence_id, article_id
ON CONFLICT (day, licence_id, article_id) DO UPDATE
SET deliveries = usage_daily.deliveries + excluded.deliveries,
    republications = usage_daily.republications + excluded.republications"""
# A batch with no billable candidate (the usual case once each (licence, article) has been billed).
_PLAIN = f"""
WITH {_BATCH}, events AS (
    INSERT INTO usage_event ({COLUMNS})
    SELECT id, licence_id, partner_id, article_id, article_version, format, token_id, false, instant.at FROM batch, instant
)
{_DAILY.format(republications="0")}
"""
# A batch with candidates (rows flagged billable): each first tries its republication row; those the
# primary key turns away (this licence already billed this article) are non-billable fetches.
_WITH_FIRSTS = f"""
WITH {_BATCH}, firsts AS (
    INSERT INTO republication (licence_id, article_id, partner_id, usage_id, at)
    SELECT licence_id, article_id, partner_id, id, instant.at FROM batch, instant WHERE billable
    ON CONFLICT DO NOTHING
    RETURNING usage_id
), events AS (
    INSERT INTO usage_event ({COLUMNS})
    SELECT id, licence_id, partner_id, article_id, article_version, format, token_id,
           billable AND id IN (SELECT usage_id FROM firsts), instant.at FROM batch, instant
)
{_DAILY.format(republications="count(*) FILTER (WHERE billable AND id IN (SELECT usage_id FROM firsts))")}
"""


class PostgresUsageStore:
    def __init__(self, connection: psycopg.AsyncConnection) -> None:
        self.connection = connection
        # Most rows of a batch repeat a few usages: their quoted columns are kept.
        self._fields: dict[Usage, tuple[str, ...]] = {}

    @classmethod
    async def open(cls, engine: Engine) -> PostgresUsageStore:
        import psycopg  # imported when first used: not needed to start the server (nor on SQLite at all)

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Autocommit: each batch is ONE statement, so one round trip commits it.
        return cls(await psycopg.AsyncConnection.connect(url, autocommit=True))

    async def write(self, usages: list[Usage], firsts: list[bool]) -> None:
        from psycopg.errors import DeadlockDetected  # loaded with the connection: a lookup

        fields = self._fields
        if len(fields) > 10_000:
            fields.clear()
        rows = [fields.get(u) or _array_fields(fields, u) for u in usages]
        columns = ["{" + ",".join(column) + "}" for column in zip(*rows)]
        ids = "{" + ",".join(usage_ids(len(usages))) + "}"  # our own alphabet: nothing to quote
        billable = "{" + ",".join("t" if first else "f" for first in firsts) + "}"
        at = datetime.now(UTC).isoformat()
        statement, params = _WITH_FIRSTS if any(firsts) else _PLAIN, [ids, *columns, billable, at]
        try:
            await self.connection.execute(statement, params, prepare=True)
        except DeadlockDetected:
            # Another worker's writer upserted overlapping rollup or republication rows; the statement
            # rolled back whole (autocommit), so running it again cannot count anything twice.
            await self.connection.execute(statement, params, prepare=True)

    async def discard(self) -> None:
        await self.connection.close()

    async def close(self) -> None:
        await self.connection.close()


def _array_element(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_fields(cache: dict[Usage, tuple[str, ...]], u: Usage) -> tuple[str, ...]:
    """A usage's columns (all but id and billable) as array-literal elements, cached."""
    found = cache[u] = (_array_element(u.licence_id), _array_element(u.partner_id), _array_element(u.article_id),
                        str(int(u.article_version)), _array_element(u.format), _array_element(u.token_id))
    return found
