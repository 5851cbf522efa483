"""sightings per day, random daily viewer keys, still-live cases (copies seen after their kill)

Revision ID: 0018_still_live
Revises: 0017_caps

Sightings recorded before this revision keep their totals but have no per-day rows (their hits
cannot be split by day after the fact), and keep the page URL as it was reported.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0018_still_live"
down_revision = "0017_caps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_beacon_sighting_article", "beacon_sighting", ["article_id", "id"], unique=False)
    op.create_table(
        "beacon_sighting_day",
        sa.Column("sighting_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["sighting_id"], ["beacon_sighting.id"],
                                name=op.f("fk_beacon_sighting_day_sighting_id_beacon_sighting")),
        sa.PrimaryKeyConstraint("sighting_id", "day", name=op.f("pk_beacon_sighting_day")),
    )
    op.create_table(
        "beacon_day_key",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_beacon_day_key")),
    )
    op.create_table(
        "still_live_case",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("page_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("killed_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("close_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name=op.f("fk_still_live_case_article_id_article")),
        sa.ForeignKeyConstraint(["licence_id"], ["licence.id"], name=op.f("fk_still_live_case_licence_id_licence")),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], name=op.f("fk_still_live_case_partner_id_partner")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_still_live_case")),
    )
    op.create_index("ix_still_live_case_open", "still_live_case", ["licence_id", "page_url"], unique=True,
                    sqlite_where=sa.text("closed_at IS NULL"), postgresql_where=sa.text("closed_at IS NULL"))
    op.create_index("ix_still_live_case_partner", "still_live_case", ["partner_id", "id"], unique=False)
    op.create_index("ix_still_live_case_closed", "still_live_case", ["closed_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_still_live_case_closed", table_name="still_live_case")
    op.drop_index("ix_still_live_case_partner", table_name="still_live_case")
    op.drop_index("ix_still_live_case_open", table_name="still_live_case")
    op.drop_table("still_live_case")
    op.drop_table("beacon_day_key")
    op.drop_table("beacon_sighting_day")
    op.drop_index("ix_beacon_sighting_article", table_name="beacon_sighting")
