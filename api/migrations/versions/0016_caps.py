"""a partner's usage listing by partner and time

Revision ID: 0016_caps
Revises: 0015_track
"""
from alembic import op

revision = "0016_caps"
down_revision = "0015_track"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_usage_event_partner_at", "usage_event", ["partner_id", "at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_usage_event_partner_at", table_name="usage_event")
