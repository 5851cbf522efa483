"""billing: invoice totals, refunds and disputes; indexes for the staff invoice lists

Revision ID: 0002_billing
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002_billing'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        # Existing invoices: their lines' sum is their total (filled in below).
        batch_op.add_column(sa.Column('total', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('amount_refunded', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('amount_disputed', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('dispute_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index('ix_invoice_period_id', ['period', 'id'], unique=False)
        batch_op.create_index('ix_invoice_status_id', ['status', 'id'], unique=False)
    op.execute("UPDATE invoice SET total = COALESCE((SELECT SUM(amount) FROM invoice_line "
               "WHERE invoice_line.invoice_id = invoice.id), amount_due)")
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        for column in ('total', 'amount_refunded', 'amount_disputed'):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_status_id')
        batch_op.drop_index('ix_invoice_period_id')
        batch_op.drop_column('dispute_status')
        batch_op.drop_column('amount_disputed')
        batch_op.drop_column('amount_refunded')
        batch_op.drop_column('total')
