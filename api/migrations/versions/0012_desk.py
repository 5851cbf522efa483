"""licence amendments and time-limited quota grants

Revision ID: 0012_desk
Revises: 0011_portal
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0012_desk"
down_revision = "0011_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The price difference of an amendment is invoiced as its own kind of invoice.
        op.execute("ALTER TYPE invoicekind ADD VALUE IF NOT EXISTS 'amendment'")
    op.create_table(
        "licence_amendment",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("price_difference", sa.Integer(), nullable=False),
        sa.Column("pricing_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("settled_ref", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["licence_id"], ["licence.id"], name=op.f("fk_licence_amendment_licence_id_licence")),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], name=op.f("fk_licence_amendment_partner_id_partner")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_amendment")),
    )
    op.create_index("ix_licence_amendment_licence", "licence_amendment", ["licence_id", "created_at", "id"])
    op.create_table(
        "quota_grant",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("extra", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("amendment_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["amendment_id"], ["licence_amendment.id"],
                                name=op.f("fk_quota_grant_amendment_id_licence_amendment")),
        sa.ForeignKeyConstraint(["licence_id"], ["licence.id"], name=op.f("fk_quota_grant_licence_id_licence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_grant")),
    )
    op.create_index("ix_quota_grant_licence", "quota_grant", ["licence_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_quota_grant_licence", table_name="quota_grant")
    op.drop_table("quota_grant")
    op.drop_index("ix_licence_amendment_licence", table_name="licence_amendment")
    op.drop_table("licence_amendment")
