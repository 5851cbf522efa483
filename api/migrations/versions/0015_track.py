"""beacon views filtered of bots, prefetches and reloads; raw hits kept beside them

Revision ID: 0015_track
Revises: 0014_sessions
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0015_track"
down_revision = "0014_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("beacon_sighting") as batch:
        batch.add_column(sa.Column("views", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "beacon_viewer",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("counted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_beacon_viewer")),
    )
    op.create_index(op.f("ix_beacon_viewer_counted_at"), "beacon_viewer", ["counted_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_beacon_viewer_counted_at"), table_name="beacon_viewer")
    op.drop_table("beacon_viewer")
    with op.batch_alter_table("beacon_sighting") as batch:
        batch.drop_column("views")
