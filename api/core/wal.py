"""Keeping SQLite's write-ahead log short when its writer has automatic checkpoints turned off.

The delivery usage writer commits on the event loop with `wal_autocheckpoint=0` (a checkpoint
copies the log into the database with an fsync, tens of ms the loop cannot spare), so something
else must checkpoint: the delivery poller thread calls `checkpoint` twice a second.

Under a steady stream of commits a PASSIVE checkpoint never catches up, so the log would grow
without bound (to ~1 GB in a minute of load) and every commit's cost with it. `checkpoint` copies
what is there without blocking anyone; once the log is long, it RESTARTs: that briefly holds back
the next writer (the usage writer retries off the loop) so the log starts over. Only then, because
a writer held back also refuses, at once, a connection that read and now wants to write; the short
busy timeout keeps a long reader from stalling the caller.
"""

from __future__ import annotations

from sqlalchemy import Engine

# Past this many frames (4 KiB pages) in the log, `checkpoint` makes it start over.
RESTART_FRAMES = 1000
RESTART_BUSY_TIMEOUT_MS = 100
# What every connection of the engine runs with (see api.core.db._configure_sqlite).
BUSY_TIMEOUT_MS = 30000


def checkpoint(engine: Engine) -> int:
    """Checkpoint the SQLite database behind `engine`; returns the frames that were in the log.

    Uses a raw DBAPI connection outside any transaction: the engine's own connections start every
    transaction with BEGIN IMMEDIATE, which would take the write lock on every call.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            _busy, frames, _copied = cursor.fetchone() or (0, 0, 0)  # DBAPI types it optional; it always answers a row
            if frames > RESTART_FRAMES:
                cursor.execute(f"PRAGMA busy_timeout={RESTART_BUSY_TIMEOUT_MS}")
                try:
                    cursor.execute("PRAGMA wal_checkpoint(RESTART)")
                finally:
                    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()
    finally:
        connection.close()
    return frames
