"""staff sessions: idle timeout renewed on activity, and when the password was last typed

Revision ID: 0014_sessions
Revises: 0013_names
"""
from alembic import op
import sqlalchemy as sa

from api.core.db import UTCDateTime

revision = "0014_sessions"
down_revision = "0013_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_session") as batch:
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("password_at", UTCDateTime(timezone=True), nullable=True))
    # Sessions open at upgrade time count as seen, and their password typed, when they logged in.
    op.execute(sa.text("UPDATE staff_session SET last_seen_at = created_at, password_at = created_at"))
    with op.batch_alter_table("staff_session") as batch:
        batch.alter_column("last_seen_at", existing_type=UTCDateTime(timezone=True), nullable=False)
        batch.alter_column("password_at", existing_type=UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_session") as batch:
        batch.drop_column("password_at")
        batch.drop_column("last_seen_at")
