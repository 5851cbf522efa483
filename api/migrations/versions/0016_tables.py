"""indexes for the console's sortable lists: each order a list offers is read from an index

Revision ID: 0016_tables
Revises: 0015_track
"""
from alembic import op

revision = "0016_tables"
down_revision = "0015_track"
branch_labels = None
depends_on = None

NEW = {
    "ix_licence_ends": ("licence", ["ends_at", "id"]),
    "ix_licence_partner_ends": ("licence", ["partner_id", "ends_at", "id"]),
    "ix_invoice_total": ("invoice", ["total", "id"]),
    "ix_invoice_status_total": ("invoice", ["status", "total", "id"]),
    "ix_invoice_partner_total": ("invoice", ["partner_id", "total", "id"]),
    "ix_partner_name": ("partner", ["name", "id"]),
    "ix_partner_status_name": ("partner", ["status", "name", "id"]),
    "ix_outbox_message_next": ("outbox_message", ["next_attempt_at", "id"]),
    "ix_staff_user_name": ("staff_user", ["name", "id"]),
}
# Widened with the id, so that a page in (key, id) order reads them without sorting.
WIDENED = {
    "ix_licence_state_ends": ("licence", ["state", "ends_at"], ["state", "ends_at", "id"]),
    "ix_outbox_message_due": ("outbox_message", ["status", "next_attempt_at"], ["status", "next_attempt_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in NEW.items():
        op.create_index(name, table, columns, unique=False)
    for name, (table, _before, after) in WIDENED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)


def downgrade() -> None:
    for name, (table, before, _after) in WIDENED.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
    for name, (table, _columns) in NEW.items():
        op.drop_index(name, table_name=table)
