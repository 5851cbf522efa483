"""partner portal: one-time sign-in links, portal sessions, republish form submissions

Revision ID: 0011_portal
Revises: 0010_field_lengths
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0011_portal"
down_revision = "0010_field_lengths"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_sign_in",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], name=op.f("fk_portal_sign_in_partner_id_partner"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sign_in")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sign_in_token_hash")),
    )
    op.create_index(op.f("ix_portal_sign_in_partner_id"), "portal_sign_in", ["partner_id"], unique=False)
    op.create_table(
        "portal_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], name=op.f("fk_portal_session_partner_id_partner"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_session_token_hash")),
    )
    op.create_index(op.f("ix_portal_session_partner_id"), "portal_session", ["partner_id"], unique=False)
    op.create_table(
        "republish_submission",
        sa.Column("form_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"],
                                name=op.f("fk_republish_submission_partner_id_partner"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["licence_request.id"],
                                name=op.f("fk_republish_submission_request_id_licence_request"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("form_token", name=op.f("pk_republish_submission")),
    )


def downgrade() -> None:
    op.drop_table("republish_submission")
    op.drop_index(op.f("ix_portal_session_partner_id"), table_name="portal_session")
    op.drop_table("portal_session")
    op.drop_index(op.f("ix_portal_sign_in_partner_id"), table_name="portal_sign_in")
    op.drop_table("portal_sign_in")
