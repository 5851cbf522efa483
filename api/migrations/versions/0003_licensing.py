"""licensing: auto-approval billing modes, list indexes, an append-only audit log

Revision ID: 0003_licensing
Revises: 0002_billing
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_licensing"
down_revision = "0002_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rules keep their meaning for bounded modes and stop approving usage billing.
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billing_modes", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.alter_column("billing_modes", server_default=None)
        batch_op.create_index("ix_auto_approval_rule_created", ["created_at", "id"], unique=False)

    # Indexes that serve each list's filter and order (tests/*/test_query_plans.py).
    for name, table in _DROPPED:
        op.drop_index(name, table_name=table)
    for name, table, columns in _CREATED:
        op.create_index(name, table, columns, unique=False)

    # The audit log is append-only in the database, not only by convention (api/audit/models.py
    # has the same statements for databases built from the models). A later SQLite batch
    # migration that rebuilds audit_entry drops these triggers and must create them again.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation'; END $$")
        op.execute("CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
                   "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()")
    else:
        op.execute("CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
                   "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: an entry cannot be updated'); END")
        op.execute("CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
                   "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: an entry cannot be deleted'); END")


_DROPPED = [
    ("ix_licence_request_partner_id", "licence_request"),
    ("ix_licence_request_queue", "licence_request"),
    ("ix_partner_status", "partner"),
    ("ix_partner_contact_partner_id", "partner_contact"),
    ("ix_api_key_partner_id", "api_key"),
    ("ix_audit_entry_object", "audit_entry"),
    ("ix_audit_entry_partner_id", "audit_entry"),
]
_CREATED = [
    ("ix_licence_request_partner", "licence_request", ["partner_id", "id"]),
    ("ix_licence_request_partner_created", "licence_request", ["partner_id", "created_at", "id"]),
    ("ix_licence_request_partner_value", "licence_request", ["partner_id", "quoted_amount", "id"]),
    ("ix_licence_request_queue", "licence_request", ["state", "created_at", "id"]),
    ("ix_licence_request_queue_value", "licence_request", ["state", "quoted_amount", "id"]),
    ("ix_licence_request_created", "licence_request", ["created_at", "id"]),
    ("ix_licence_request_value", "licence_request", ["quoted_amount", "id"]),
    ("ix_licence_state", "licence", ["state", "id"]),
    ("ix_partner_created", "partner", ["created_at", "id"]),
    ("ix_partner_status_created", "partner", ["status", "created_at", "id"]),
    ("ix_partner_contact_partner", "partner_contact", ["partner_id", "id"]),
    ("ix_api_key_partner", "api_key", ["partner_id", "created_at", "id"]),
    ("ix_audit_entry_object_at", "audit_entry", ["object_id", "at", "id"]),
    ("ix_audit_entry_type_at", "audit_entry", ["object_type", "at", "id"]),
]
# What 0001 had, for downgrade.
_RESTORED = [
    ("ix_licence_request_partner_id", "licence_request", ["partner_id"]),
    ("ix_licence_request_queue", "licence_request", ["state", "created_at"]),
    ("ix_partner_status", "partner", ["status"]),
    ("ix_partner_contact_partner_id", "partner_contact", ["partner_id"]),
    ("ix_api_key_partner_id", "api_key", ["partner_id"]),
    ("ix_audit_entry_object", "audit_entry", ["object_type", "object_id", "id"]),
    ("ix_audit_entry_partner_id", "audit_entry", ["partner_id"]),
]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    for name, table, _columns in reversed(_CREATED):
        op.drop_index(name, table_name=table)
    for name, table, columns in _RESTORED:
        op.create_index(name, table, columns, unique=False)
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_auto_approval_rule_created")
        batch_op.drop_column("billing_modes")
