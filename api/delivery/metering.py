"""Usage metering with group commit: durable before the body is sent, without a commit per request.

A request appends its event to the open batch and awaits its own future. A writer task on the
same event loop takes the batch, writes it in ONE transaction, commits, and only then releases
the waiting requests (or fails them: they answer 503 instead of serving an unrecorded
copy). A crash can only lose events whose bodies were never sent.

A client that disconnects while its request waits cancels only that request's future: the rest of
the batch is served. Its event stays in the batch and is committed with it (it may already be
being written; taking it back would race the commit), so a fetch whose client went away after it
was queued is recorded although its body may never have reached the client. Metering errs on the
side of counting a delivery that was attempted, never of serving one unrecorded.

Why a task and not a thread: a writer thread must win the GIL back from a busy event loop after
every database call, and each hand-over waits for the interpreter's switch interval (5 ms), which
caps 64 connections at ~13k requests/s. On the loop there is no hand-over:
- PostgreSQL: one asyncio psycopg connection; each batch is one atomic statement, committed in
  one round trip, and the loop keeps serving (and gathering the next batch) while it is in flight.
- SQLite: the commit itself runs on the loop (WAL + synchronous=NORMAL: no fsync, ~0.2 ms for 30
  rows), with busy_timeout=0 so a lock held by another writer never blocks the loop (the batch is
  retried a millisecond later, for up to `LOCK_PATIENCE` seconds, then its requests get 503), and
  automatic WAL checkpoints off on this connection (the runtime's poller thread checkpoints).

Durability: SQLite WAL + synchronous=NORMAL survives a crash of the API process (SIGKILL) but not
a power loss or OS crash, which can lose the last commits; PostgreSQL commits are fully durable.

Billing: the first fetch of an article under a licence is the billable republication. The
`republication` table's primary key guarantees one billable row per (licence, article) even across
processes; the writer inserts a republication with ON CONFLICT DO NOTHING for pairs it has not seen
billed, and records the fetch as billable only when that row went in. (The usage table itself is
partitioned by month on PostgreSQL, and a unique index there would have to include the month.)

Rollups: the same statement (PostgreSQL) or transaction (SQLite) adds the batch's counts to
`usage_daily`, one row per UTC day, licence and article, so the rollup always agrees with the
events it counts, and quotas, reports and invoicing never scan the raw log.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from api.delivery.errors import UsageNotRecorded

log = logging.getLogger("syndicate.delivery.metering")

_COLUMNS = "id, licence_id, partner_id, article_id, article_version, format, token_id, billable, at"

# PostgreSQL: the whole batch in one atomic statement (one round trip, one commit in autocommit
# mode). Each column travels as ONE text parameter holding an array literal ('{a,b,c}') that the
# writer joins itself: psycopg's list dumper costs ~5 µs per row on the event loop, a join almost
# nothing. Both statements are prepared once per connection. Parameters: the eight arrays, then
# the batch's instant.
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
_POSTGRES_PLAIN = f"""
WITH {_BATCH}, events AS (
    INSERT INTO usage_event ({_COLUMNS})
    SELECT id, licence_id, partner_id, article_id, article_version, format, token_id, false, instant.at FROM batch, instant
)
{_DAILY.format(republications="0")}
"""
# A batch with candidates (rows flagged billable): each first tries its republication row; those the
# primary key turns away (this licence already billed this article) are non-billable fetches.
_POSTGRES_BATCH = f"""
WITH {_BATCH}, firsts AS (
    INSERT INTO republication (licence_id, article_id, partner_id, usage_id, at)
    SELECT licence_id, article_id, partner_id, id, instant.at FROM batch, instant WHERE billable
    ON CONFLICT DO NOTHING
    RETURNING usage_id
), events AS (
    INSERT INTO usage_event ({_COLUMNS})
    SELECT id, licence_id, partner_id, article_id, article_version, format, token_id,
           billable AND id IN (SELECT usage_id FROM firsts), instant.at FROM batch, instant
)
{_DAILY.format(republications="count(*) FILTER (WHERE billable AND id IN (SELECT usage_id FROM firsts))")}
"""
_SQLITE_REPUBLICATION = "INSERT INTO republication (licence_id, article_id, partner_id, usage_id, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
_SQLITE_DAILY = """INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day, licence_id, article_id) DO UPDATE
SET deliveries = deliveries + excluded.deliveries, republications = republications + excluded.republications"""
LOCK_PATIENCE = 5.0
_CROCKFORD = str.maketrans("0123456789abcdefghijklmnopqrstuv", "0123456789abcdefghjkmnpqrstvwxyz")


_last_value = 0
_id_lock = threading.Lock()
_PAIRS = ["".join(p) for p in ((a, b) for a in "0123456789abcdefghjkmnpqrstvwxyz" for b in "0123456789abcdefghjkmnpqrstvwxyz")]


def usage_ids(count: int) -> list[str]:
    """`count` ids of the same shape and ordering as `api.core.db.new_id("use")` (time-ordered,
    monotonic within the process), cheaply: one random 130-bit value per batch whose low 20 bits
    count the rows, so each further id costs a table lookup (the writer makes thousands a second;
    os.urandom would also release the GIL on every call)."""
    global _last_value
    with _id_lock:
        value = ((int(time.time() * 1000) << 80) | random.getrandbits(80)) >> 20 << 20
        if value <= _last_value:
            value = (_last_value >> 20) + 1 << 20
        _last_value = value + count
    head = "use_" + base64.b32hexencode((value << 6).to_bytes(17, "big"))[:22].decode().lower().translate(_CROCKFORD)
    return [head + _PAIRS[i >> 10] + _PAIRS[i & 1023] for i in range(count)]


@dataclass(frozen=True, slots=True)
class Usage:
    licence_id: str
    partner_id: str
    article_id: str
    article_version: int
    format: str
    token_id: str | None


class UsageWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._insert = f"INSERT INTO usage_event ({_COLUMNS}) VALUES ({', '.join(['?'] * 9)})"  # SQLite
        # The open batch: its events, and one future per request in it (a shared future would be
        # cancelled for everyone by one waiter's cancellation).
        self._pending: list[Usage] = []
        self._waiters: list[asyncio.Future] = []
        self._billed: set[tuple[str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._wake: asyncio.Event | None = None
        self._accepting = False
        self._lock = threading.Lock()
        self.gather_seconds = 0.0
        self.batches = 0  # for tests and the benchmark: how many commits served how many events
        self.events = 0
        self.billable_batches = 0  # PostgreSQL: batches that needed the billable (ON CONFLICT) statement
        self._fields: dict[Usage, tuple[str, ...]] = {}

    def start(self) -> None:
        """Start the writer task on the running event loop (call from a startup hook)."""
        if self._accepting:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._billed.clear()
        self._accepting = True
        # One writer on both databases. On PostgreSQL a second connection was tried and measured
        # slower (9.7k vs 11.6k requests/s): the batches halve, and each statement costs the
        # database server a core it shares with this process.
        self._tasks = [self._loop.create_task(self._run(), name="syndicate-usage-writer")]

    def stop(self) -> None:
        """Stop accepting events (callable from any thread); pending events are written first."""
        with self._lock:
            if not self._accepting:
                return
            self._accepting = False
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass

    async def aclose(self) -> None:
        self.stop()
        if not self._tasks:
            return
        tasks, owner = self._tasks, self._loop
        if owner is None or owner is asyncio.get_running_loop():
            await asyncio.wait(tasks, timeout=LOCK_PATIENCE + 5)
        elif owner.is_running():
            # Started by another event loop of this process (a second server of one app, as the tests
            # run one beside a TestClient): its tasks finish, and can only be awaited, on that loop;
            # awaited from here they would never report done and the wait would last its timeout.
            async def finished() -> None:
                await asyncio.wait(tasks, timeout=LOCK_PATIENCE + 5)

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(finished(), owner))
        self._tasks = []

    def submit(self, usages: list[Usage]) -> asyncio.Future:
        """Queue events; the returned future (this caller's own) resolves once they are committed."""
        if not self._accepting or asyncio.get_running_loop() is not self._loop:
            raise UsageNotRecorded("Usage metering is not running, so the article was not served; retry shortly.")
        if not self._waiters:
            self._wake.set()  # type: ignore[union-attr]  # start() made it before any batch is accepted
        future = self._loop.create_future()
        self._waiters.append(future)
        self._pending.extend(usages)
        return future

    async def record(self, *usages: Usage) -> None:
        future = self.submit(list(usages))
        try:
            await future  # cancelling this request cancels only its own future (see the module doc)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the body must not go out
            raise UsageNotRecorded("The delivery could not be recorded, so it was not served; retry shortly.") from exc

    # --- the writer task -------------------------------------------------------------------------

    async def _run(self) -> None:
        connection = None
        try:
            while True:
                await self._wake.wait()  # type: ignore[union-attr]  # made by start(), before this loop runs
                self._wake.clear()  # type: ignore[union-attr]  # (as above)
                # Let the requests already in flight in this loop iteration join the batch.
                await asyncio.sleep(self.gather_seconds)
                usages, waiters = self._pending, self._waiters
                self._pending, self._waiters = [], []
                if waiters:
                    try:
                        if connection is None:
                            connection = await self._connect()
                        await self._write(connection, usages)
                        _settle(waiters, None)
                    except Exception as exc:  # noqa: BLE001
                        log.exception("usage batch of %d event(s) failed", len(usages))
                        _settle(waiters, exc)
                        await self._discard(connection)
                        connection = None
                if self._waiters:
                    self._wake.set()  # type: ignore[union-attr]  # more arrived while writing
                elif not self._accepting:
                    break
        finally:
            _settle(self._waiters, UsageNotRecorded("metering stopped"))
            self._pending, self._waiters = [], []
            await self._close(connection)

    async def _connect(self):
        if self.sqlite:
            connection = self.engine.raw_connection()
            connection.execute("PRAGMA busy_timeout=0")  # never block the loop on another writer's lock
            # A checkpoint (copying the WAL into the database, with an fsync) would stall the loop for
            # tens of ms; the runtime's poller thread checkpoints instead (see DeliveryRuntime.poll_once).
            connection.execute("PRAGMA wal_autocheckpoint=0")
            return connection
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Autocommit: each batch is ONE statement (see _POSTGRES_BATCH), so one round trip commits it.
        return await psycopg.AsyncConnection.connect(url, autocommit=True)

    async def _discard(self, connection) -> None:
        if connection is None:
            return None
        try:
            if self.sqlite:
                connection.invalidate()
            else:
                await connection.close()
        except Exception:  # noqa: BLE001
            pass
        return None

    async def _close(self, connection) -> None:
        if connection is None:
            return
        if self.sqlite:
            connection.execute("PRAGMA busy_timeout=30000")  # back to the pool with the engine's settings
            connection.execute("PRAGMA wal_autocheckpoint=1000")
            connection.close()
        else:
            await connection.close()

    def _rows(self, usages: list[Usage]) -> tuple[list[list], list[list], set[tuple[str, str]]]:
        now = datetime.now(UTC)
        at = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if self.sqlite else now
        ordinary: list[list] = []
        candidates: list[list] = []
        new_pairs: set[tuple[str, str]] = set()
        for id_, u in zip(usage_ids(len(usages)), usages):
            row = [id_, u.licence_id, u.partner_id, u.article_id, u.article_version, u.format, u.token_id, False, at]
            pair = (u.licence_id, u.article_id)
            if pair in self._billed or pair in new_pairs:
                ordinary.append(row)
            else:
                new_pairs.add(pair)
                candidates.append(row)
        return ordinary, candidates, new_pairs

    async def _write(self, connection, usages: list[Usage]) -> None:
        if self.sqlite:
            ordinary, candidates, new_pairs = self._rows(usages)
            await self._write_sqlite(connection, ordinary, candidates)
        else:
            new_pairs = await self._write_postgres(connection, usages)
        self._billed.update(new_pairs)
        if len(self._billed) > 500_000:
            self._billed.clear()
        self.batches += 1
        self.events += len(usages)

    async def _write_sqlite(self, connection, ordinary: list[list], candidates: list[list]) -> None:
        deadline = time.monotonic() + LOCK_PATIENCE
        cursor = connection.cursor()
        try:
            while True:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.001)
            try:
                for row in candidates:
                    cursor.execute(_SQLITE_REPUBLICATION, (row[1], row[3], row[2], row[0], row[8]))
                    row[7] = cursor.rowcount == 1
                rows = ordinary + candidates
                cursor.executemany(self._insert, rows)
                cursor.executemany(_SQLITE_DAILY, _daily_counts(rows))
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()

    async def _write_postgres(self, connection, usages: list[Usage]) -> set[tuple[str, str]]:
        from psycopg.errors import DeadlockDetected

        new_pairs: set[tuple[str, str]] = set()
        flags = []
        for u in usages:
            pair = (u.licence_id, u.article_id)
            if pair in self._billed or pair in new_pairs:
                flags.append("f")
            else:
                new_pairs.add(pair)
                flags.append("t")
        fields = self._fields
        if len(fields) > 10_000:
            fields.clear()
        rows = [fields.get(u) or _array_fields(fields, u) for u in usages]
        columns = ["{" + ",".join(column) + "}" for column in zip(*rows)]
        ids = "{" + ",".join(usage_ids(len(usages))) + "}"  # our own alphabet: nothing to quote
        billable = "{" + ",".join(flags) + "}"
        at = datetime.now(UTC).isoformat()
        statement, params = _POSTGRES_BATCH if new_pairs else _POSTGRES_PLAIN, [ids, *columns, billable, at]
        try:
            await connection.execute(statement, params, prepare=True)
        except DeadlockDetected:
            # Another worker's writer upserted overlapping rollup or republication rows; the statement
            # rolled back whole (autocommit), so running it again cannot count anything twice.
            await connection.execute(statement, params, prepare=True)
        if new_pairs:
            self.billable_batches += 1
        return new_pairs


def _daily_counts(rows: list[list]) -> list[tuple]:
    """SQLite: the batch's rows as usage_daily increments, one per (day, licence, article), in key order."""
    counts: dict[tuple[str, str, str], list] = {}
    for row in rows:
        key = (row[8][:10], row[1], row[3])  # `at` is "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
        found = counts.get(key)
        if found is None:
            found = counts[key] = [row[2], 0, 0]
        found[1] += 1
        found[2] += bool(row[7])
    return [(day, licence, article, partner, deliveries, republications)
            for (day, licence, article), (partner, deliveries, republications) in sorted(counts.items())]


def _array_element(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_fields(cache: dict[Usage, tuple[str, ...]], u: Usage) -> tuple[str, ...]:
    """A usage's columns (all but id and billable) as array-literal elements; most rows of a batch
    repeat a few usages, so they are quoted once and cached."""
    found = cache[u] = (_array_element(u.licence_id), _array_element(u.partner_id), _array_element(u.article_id),
                        str(int(u.article_version)), _array_element(u.format), _array_element(u.token_id))
    return found


def _settle(waiters: list[asyncio.Future], error: BaseException | None) -> None:
    for future in waiters:
        if not future.done():  # a cancelled waiter (its client went away) is simply skipped
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
