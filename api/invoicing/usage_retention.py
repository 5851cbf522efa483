"""The raw usage log over time: PostgreSQL's monthly partitions created ahead, and retention.

PostgreSQL: `usage_event` is partitioned by RANGE (at), one partition per UTC month
(`usage_event_y2026m12`) and a default partition for rows whose month has none yet (the delivery
never fails for want of a partition). The worker creates partitions `usage_partitions_ahead_months`
ahead; retention drops a whole month once all of it is past the cut-off (instant, no dead rows to
vacuum), and deletes rows past it from the default partition in batches. SQLite keeps one table
and deletes rows past the cut-off in batches.

Why retention is safe: nothing that bills, limits or reports reads the raw log. Invoicing counts
`republication` rows, quotas and reports `usage_daily`, webhooks `republication`; those tables are
never pruned. The cut-off is moreover held back (`usage_cutoff`) so that raw events stay for
everything an invoicing period may still bill: the current and previous month, every draft invoice's
span, and every licence's usage not billed yet. A dispute over anything not yet invoiced can
always be answered from the raw rows.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, select, text
from sqlmodel import Session, col

from api.core.months import add_months, month_start
from api.delivery.models import USAGE_EVENT_DEFAULT_PARTITION, UsageEvent

log = logging.getLogger("syndicate.invoicing.usage_retention")

BATCH = 10_000
_PARTITION = re.compile(r"usage_event_y(\d{4})m(\d{2})")
# Creating or dropping a partition locks the parent table briefly; behind a long query it would make
# the usage writer queue behind it, so give up after this long and try again on the next run.
LOCK_TIMEOUT = "2s"


def partition_name(month: datetime) -> str:
    return f"usage_event_y{month:%Y}m{month:%m}"


def partitions(engine: Engine) -> dict[str, datetime]:
    """PostgreSQL: the usage log's monthly partitions, by name, with the month each holds."""
    with engine.connect() as connection:
        names = connection.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_event'")).scalars().all()
    found = {}
    for name in names:
        match = _PARTITION.fullmatch(name)
        if match:
            found[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    return found


def ensure_partitions(engine: Engine, *, ahead_months: int, now: datetime | None = None) -> list[str]:
    """PostgreSQL: create the partitions of this month and the next `ahead_months`; rows that had
    landed in the default partition for one of those months are moved into it. Returns the new names.
    Idempotent; a no-op on SQLite."""
    if engine.dialect.name != "postgresql":
        return []
    existing = partitions(engine)
    this_month = month_start(now or datetime.now(UTC))
    created = []
    for month in (add_months(this_month, n) for n in range(ahead_months + 1)):
        name = partition_name(month)
        if name in existing:
            continue
        bounds = f"FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"
        in_range = {"low": month, "high": add_months(month, 1)}
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            stray = connection.execute(text(
                f"SELECT 1 FROM {USAGE_EVENT_DEFAULT_PARTITION} WHERE at >= :low AND at < :high LIMIT 1"), in_range).first()
            if stray is None:
                connection.execute(text(f"CREATE TABLE {name} PARTITION OF usage_event FOR VALUES {bounds}"))
            else:
                # The job fell behind and the default partition holds rows of this month: a partition
                # cannot be created over them, so they move into it and it is attached after.
                connection.execute(text(f"LOCK TABLE {USAGE_EVENT_DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE"))
                connection.execute(text(f"CREATE TABLE {name} (LIKE usage_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
                moved = connection.execute(text(
                    f"WITH moved AS (DELETE FROM {USAGE_EVENT_DEFAULT_PARTITION} WHERE at >= :low AND at < :high "
                    f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), in_range).rowcount
                connection.execute(text(f"ALTER TABLE usage_event ATTACH PARTITION {name} FOR VALUES {bounds}"))
                log.warning("usage partition %s created late: moved %d row(s) out of the default partition", name, moved)
        created.append(name)
    return created


def usage_cutoff(session: Session, *, retention_days: int, now: datetime | None = None) -> datetime:
    """The instant before which raw usage events may go: `retention_days` ago, but never later than
    the start of the previous month (its period invoice may still be run or redone), the start of
    any draft invoice's span, or the oldest delivery of any licence not billed yet."""
    from api.invoicing.models import Invoice, InvoiceStatus
    from api.invoicing.usage import unbilled

    now = now or datetime.now(UTC)
    bounds = [now - timedelta(days=retention_days), add_months(month_start(now), -1)]
    draft_from = session.execute(select(func.min(col(Invoice.usage_from)))
                                 .where(col(Invoice.status) == InvoiceStatus.draft)).scalar_one()
    if draft_from is not None:
        bounds.append(draft_from)
    bounds.extend(span.usage_from for span in unbilled(session, end=now))
    return min(bounds)


def prune_usage_events(engine: Engine, *, retention_days: int, now: datetime | None = None,
                       batch: int = BATCH) -> int:
    """Remove raw usage events past retention (see `usage_cutoff`): whole monthly partitions on
    PostgreSQL, then the default partition's old rows (SQLite: the table's) in batches of `batch`,
    each its own short transaction so the usage writer is never held up for long. Returns rows removed
    by deletes (a dropped partition's rows are not counted)."""
    with Session(engine) as session:
        cutoff = usage_cutoff(session, retention_days=retention_days, now=now)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        for name, month in sorted(partitions(engine).items(), key=lambda item: item[1]):
            if add_months(month, 1) <= cutoff:
                with engine.begin() as connection:
                    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                    connection.execute(text(f"ALTER TABLE usage_event DETACH PARTITION {name}"))
                    connection.execute(text(f"DROP TABLE {name}"))
                log.info("usage partition %s dropped: past retention (cut-off %s)", name, cutoff.isoformat())
    # PostgreSQL deletes only from the default partition: a monthly one straddling the cut-off is
    # kept whole until its month is all past it (deleting from it would only leave dead rows to vacuum).
    removed = 0
    while True:
        with engine.begin() as connection:
            if postgres:
                count = connection.execute(text(
                    f"DELETE FROM {USAGE_EVENT_DEFAULT_PARTITION} WHERE ctid IN "
                    f"(SELECT ctid FROM {USAGE_EVENT_DEFAULT_PARTITION} WHERE at < :cutoff LIMIT :batch)"),
                    {"cutoff": cutoff, "batch": batch}).rowcount
            else:
                oldest = select(col(UsageEvent.id)).where(col(UsageEvent.at) < cutoff).limit(batch)
                count = connection.execute(delete(UsageEvent).where(
                    col(UsageEvent.id).in_(oldest), col(UsageEvent.at) < cutoff)).rowcount
        removed += count
        if count < batch:
            return removed
