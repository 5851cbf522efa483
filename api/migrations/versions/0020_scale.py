"""usage log past one table: republications and daily rollups beside it; on PostgreSQL the log is
partitioned by month

`republication` takes over the unique (licence, article) key of billable rows (a partitioned table's
unique keys must include the partition key), `usage_daily` counts deliveries per day, licence and
article. Both are filled from the existing rows; the usage table is rebuilt with the primary key
(id, at) and, on PostgreSQL, as a table partitioned by RANGE (at) with a default partition and
one partition per month from its oldest row to three months ahead.

Revision ID: 0020_scale
Revises: 0019_cursor
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

from api.core.db import UTCDateTime

revision = "0020_scale"
down_revision = "0019_cursor"
branch_labels = None
depends_on = None

COLUMNS = "id, licence_id, partner_id, article_id, article_version, format, token_id, billable, at"
MONTHS_AHEAD = 3


def _usage_event_table(*, primary_key: tuple[str, ...], partitioned: bool) -> None:
    op.create_table(
        "usage_event",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_version", sa.Integer(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*primary_key, name=op.f("pk_usage_event")),
        **({"postgresql_partition_by": "RANGE (at)"} if partitioned else {}),
    )


def _months(first: datetime, last: datetime):
    month = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= last:
        following = month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)
        yield month, following
        month = following


def _rebuild_usage_event(*, partitioned: bool, primary_key: tuple[str, ...], old_indexes: list[str]) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in old_indexes:
        op.drop_index(name, table_name="usage_event")
    op.rename_table("usage_event", "usage_event_old")
    if postgres:  # constraint names are schema-wide there
        op.execute("ALTER TABLE usage_event_old RENAME CONSTRAINT pk_usage_event TO pk_usage_event_old")
    _usage_event_table(primary_key=primary_key, partitioned=partitioned and postgres)
    if partitioned and postgres:
        op.execute("CREATE TABLE usage_event_default PARTITION OF usage_event DEFAULT")
        oldest = op.get_bind().execute(sa.text("SELECT min(at) FROM usage_event_old")).scalar()
        now = datetime.now(UTC)
        ahead = now.replace(day=28) + timedelta(days=31 * MONTHS_AHEAD)  # in the third month ahead
        for start, end in _months(min(oldest or now, now), ahead):
            op.execute(f"CREATE TABLE usage_event_y{start:%Y}m{start:%m} PARTITION OF usage_event "
                       f"FOR VALUES FROM ('{start:%Y-%m-%d}T00:00:00+00:00') TO ('{end:%Y-%m-%d}T00:00:00+00:00')")
    op.execute(f"INSERT INTO usage_event ({COLUMNS}) SELECT {COLUMNS} FROM usage_event_old")
    op.drop_table("usage_event_old")
    op.create_index("ix_usage_event_at", "usage_event", ["at"], unique=False)
    op.create_index("ix_usage_event_licence_at", "usage_event", ["licence_id", "at"], unique=False)
    op.create_index("ix_usage_event_partner_at", "usage_event", ["partner_id", "at", "id"], unique=False)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "republication",
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("usage_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("licence_id", "article_id", name=op.f("pk_republication")),
    )
    op.create_index("ix_republication_article_partner", "republication", ["article_id", "partner_id"], unique=False)
    op.create_index("ix_republication_licence_at", "republication", ["licence_id", "at"], unique=False)
    op.create_index("ix_republication_partner_at", "republication", ["partner_id", "at"], unique=False)
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("republications", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "licence_id", "article_id", name=op.f("pk_usage_daily")),
    )
    op.create_index("ix_usage_daily_licence_day", "usage_daily", ["licence_id", "day"], unique=False)

    # The unique index on billable rows guaranteed one per (licence, article): each is a republication.
    op.execute("INSERT INTO republication (licence_id, article_id, partner_id, usage_id, at) "
               "SELECT licence_id, article_id, partner_id, id, at FROM usage_event WHERE billable")
    day, billed = (("(at AT TIME ZONE 'UTC')::date", "count(*) FILTER (WHERE billable)") if postgres
                   else ("substr(at, 1, 10)", "sum(billable)"))  # SQLite keeps UTC as "YYYY-MM-DD HH:MM:SS"
    op.execute("INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications) "
               f"SELECT {day}, licence_id, article_id, min(partner_id), count(*), {billed} FROM usage_event "
               f"GROUP BY {day}, licence_id, article_id")

    _rebuild_usage_event(partitioned=True, primary_key=("id", "at"), old_indexes=[
        "uq_usage_event_republication", "ix_usage_event_article_readers", "ix_usage_event_at",
        "ix_usage_event_licence_at", "ix_usage_event_partner_at"])


def downgrade() -> None:
    _rebuild_usage_event(partitioned=False, primary_key=("id",), old_indexes=["ix_usage_event_at",
                                                                              "ix_usage_event_licence_at",
                                                                              "ix_usage_event_partner_at"])
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index("uq_usage_event_republication", ["licence_id", "article_id"], unique=True,
                              sqlite_where=sa.text("billable"), postgresql_where=sa.text("billable"))
        batch_op.create_index("ix_usage_event_article_readers", ["article_id", "partner_id"], unique=False,
                              sqlite_where=sa.text("billable"), postgresql_where=sa.text("billable"))
    op.drop_index("ix_usage_daily_licence_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index("ix_republication_partner_at", table_name="republication")
    op.drop_index("ix_republication_licence_at", table_name="republication")
    op.drop_index("ix_republication_article_partner", table_name="republication")
    op.drop_table("republication")
