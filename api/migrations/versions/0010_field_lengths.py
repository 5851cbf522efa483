"""field lengths: every free-text column has the maximum length the API documents

licence_request.notes was unbounded TEXT (the API takes at most 2,000 characters); an
Idempotency-Key may now be 255 characters, as Stripe's and the IETF draft's are. SQLite does not
enforce VARCHAR lengths (the schemas are the guard there); PostgreSQL does.

Revision ID: 0010_field_lengths
Revises: 0009_catalogue_search
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010_field_lengths"
down_revision = "0009_catalogue_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licence_request", schema=None) as batch_op:
        # Existing notes were accepted through the same 2,000-character schema, so none is longer.
        batch_op.alter_column("notes", existing_type=sa.Text(), type_=sqlmodel.sql.sqltypes.AutoString(length=2000),
                              existing_nullable=True)
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sqlmodel.sql.sqltypes.AutoString(length=200),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=255), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=200), existing_nullable=False)
    with op.batch_alter_table("licence_request", schema=None) as batch_op:
        batch_op.alter_column("notes", existing_type=sqlmodel.sql.sqltypes.AutoString(length=2000), type_=sa.Text(),
                              existing_nullable=True)
