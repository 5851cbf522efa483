"""billing cut-off: invoices and usage lines carry the span they bill; an issuing lease; cancelled licences

Invoice-now bills one partner's (or licence's) usage up to a cut-off instant, and the next invoice
of that licence starts exactly there: each usage line records [usage_from, usage_to), unique per
(licence, usage_from). A draft being sent to the provider is leased to one caller, so no network
call happens inside a transaction yet two runs never send one invoice twice. An unpaid licence
can now be `cancelled` (PostgreSQL's enum type gains the value; SQLite stores the name as text).

Revision ID: 0007_billing_cutoff
Revises: 0006_write_path
"""
from alembic import op
import sqlalchemy as sa

import api.core.db

revision = "0007_billing_cutoff"
down_revision = "0006_write_path"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, api.core.db.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE licencestate ADD VALUE IF NOT EXISTS 'cancelled'")
        op.execute("ALTER TYPE invoicekind ADD VALUE IF NOT EXISTS 'on_demand'")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(_when("usage_from"))
        batch_op.add_column(_when("usage_to"))
        batch_op.add_column(sa.Column("issue_lease_token", sa.String(length=32), nullable=True))
        batch_op.add_column(_when("issue_lease_until"))
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.add_column(_when("usage_from"))
        batch_op.add_column(_when("usage_to"))
        batch_op.create_unique_constraint("uq_invoice_line_licence_id_usage_from", ["licence_id", "usage_from"])


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; `cancelled` and `on_demand` stay in the types.
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.drop_constraint("uq_invoice_line_licence_id_usage_from", type_="unique")
        batch_op.drop_column("usage_to")
        batch_op.drop_column("usage_from")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("issue_lease_until")
        batch_op.drop_column("issue_lease_token")
        batch_op.drop_column("usage_to")
        batch_op.drop_column("usage_from")
