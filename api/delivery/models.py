from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import DDL, JSON, Column, Index, Text, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, metadata, new_id, utcnow
from api.delivery.rollups import POSTGRES_TRIGGERS as POSTGRES_ROLLUP_TRIGGERS
from api.delivery.rollups import SQLITE_TRIGGERS as SQLITE_ROLLUP_TRIGGERS


class UsageEvent(SQLModel, table=True):
    """One row per 200 content response, written before its body is sent.

    `billable` marks a republication: the first fetch of an article under a licence (enforced by
    the `republication` table's primary key, written in the same statement); later fetches are
    recorded with billable=False.

    No foreign keys, on purpose: this is the hot path's append-only log, and every row is written by
    the delivery path from the licence, partner and article it has just read, none of which is ever
    deleted (articles are withdrawn, licences end, partners are suspended). On PostgreSQL each
    foreign key is a per-row trigger that locks its parent row, which cost a third of the content
    endpoint's throughput (11.4k -> 16.7k requests/s without them, `python -m benchmarks.delivery`).

    On PostgreSQL the table is partitioned by month of `at` (api/delivery/usage_log.py creates the
    partitions ahead and drops the ones past retention), so the primary key includes `at`: a
    partitioned table's unique keys must hold the partition key. Nothing reads these rows on a
    request or in invoicing: `usage_daily` and `republication` answer those (see usage_log.py).
    """

    __tablename__ = "usage_event"
    __table_args__ = (
        Index("ix_usage_event_licence_at", "licence_id", "at"),
        # A partner's own usage, newest first, in keyset pages (GET /v1/usage).
        Index("ix_usage_event_partner_at", "partner_id", "at", "id"),
        # Usage reports over a time range, and retention deleting by time (SQLite, and PostgreSQL's default partition).
        Index("ix_usage_event_at", "at"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    id: str = Field(default_factory=lambda: new_id("use"), primary_key=True, max_length=40)
    licence_id: str = Field(max_length=40)
    partner_id: str = Field(max_length=40)
    article_id: str = Field(max_length=40)
    article_version: int
    format: str = Field(max_length=20)  # json | ninjs | html | feed
    token_id: str | None = Field(default=None, max_length=64)
    billable: bool = False
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, primary_key=True)


# PostgreSQL: rows whose month has no partition yet land here rather than failing the delivery
# (the partitions job moves them out when it creates their month). Made with the table, so a
# database built from the models (the tests') can take rows at once.
USAGE_EVENT_DEFAULT_PARTITION = "usage_event_default"
event.listen(UsageEvent.__table__, "after_create", DDL(  # type: ignore[attr-defined]
    f"CREATE TABLE IF NOT EXISTS {USAGE_EVENT_DEFAULT_PARTITION} PARTITION OF usage_event DEFAULT"
).execute_if(dialect="postgresql"))
# The partitions are PostgreSQL's business, not the models': the schema comparison leaves them out.
metadata.info.setdefault("unmanaged_table_patterns", set()).add(r"usage_event_(default|y\d{4}m\d{2})")


class Republication(SQLModel, table=True):
    """The first fetch of an article under a licence: the billable delivery, exactly once.

    Its primary key is what guarantees one billable usage event per (licence, article) across
    processes (the usage table, partitioned by time, cannot hold that unique key). Written in the
    same statement as the usage event it names; never deleted by retention, since invoicing counts
    these rows and webhooks fan out to the partners who fetched an article."""

    __tablename__ = "republication"
    __table_args__ = (
        # Who has fetched an article (webhook fan-out).
        Index("ix_republication_article_partner", "article_id", "partner_id"),
        # Invoicing: one licence's republications since it was last billed (invoice-now), and one
        # partner's (the period run takes the partners one by one).
        Index("ix_republication_licence_at", "licence_id", "at"),
        Index("ix_republication_partner_at", "partner_id", "at"),
    )

    licence_id: str = Field(primary_key=True, max_length=40)
    article_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    usage_id: str = Field(max_length=40)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class UsageDaily(SQLModel, table=True):
    """Deliveries and republications per UTC day, licence and article: the usage log rolled up,
    updated in the same statement as the events it counts, so it always agrees with them
    (until retention removes old raw events; these rows stay). Quotas and reports read it."""

    __tablename__ = "usage_daily"
    # Reports over a range of days across partners use the primary key, which starts with the day.
    __table_args__ = (Index("ix_usage_daily_licence_day", "licence_id", "day"),)

    day: date = Field(primary_key=True)
    licence_id: str = Field(primary_key=True, max_length=40)
    article_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    deliveries: int = 0
    republications: int = 0


class UsageLicenceDaily(SQLModel, table=True):
    """`usage_daily` summed per UTC day and licence, kept by triggers on it (api/delivery/rollups.py):
    what quotas, the usage report's partners and licences, and per-period sums read."""

    __tablename__ = "usage_licence_daily"
    # A licence's days (quotas, a period's sums); a partner's (its report line, invoicing's checks).
    __table_args__ = (Index("ix_usage_licence_daily_licence_day", "licence_id", "day"),
                      Index("ix_usage_licence_daily_partner_day", "partner_id", "day"))

    day: date = Field(primary_key=True)
    licence_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    deliveries: int = 0
    republications: int = 0


class UsageArticleDaily(SQLModel, table=True):
    """`usage_daily` summed per UTC day and article, kept by triggers on it: the top articles' source."""

    __tablename__ = "usage_article_daily"

    day: date = Field(primary_key=True)
    article_id: str = Field(primary_key=True, max_length=40)
    deliveries: int = 0
    republications: int = 0


# The rollups' triggers come with usage_daily in a database built from the models (the tests', the
# demo's); migration 0024_rollups_attempts makes the same ones in a migrated database.
for _statement in SQLITE_ROLLUP_TRIGGERS:
    event.listen(UsageDaily.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))  # type: ignore[attr-defined]
for _statement in POSTGRES_ROLLUP_TRIGGERS:
    event.listen(UsageDaily.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))  # type: ignore[attr-defined]

class LiveCopy(SQLModel, table=True):
    """An article live under a licence with a cap on live articles, in one of its slots, until retired.

    A slot is claimed by the first delivery of the article (api/delivery/caps.py); the partial unique
    indexes make two deliveries racing for the last slot, or for the same article, find each other.
    A retirement on a licence without a cap is kept too (slot null), so its live list leaves the copy out.
    """

    __tablename__ = "live_copy"
    __table_args__ = (
        Index("uq_live_copy_slot", "licence_id", "slot", unique=True,
              sqlite_where=text("retired_at IS NULL"), postgresql_where=text("retired_at IS NULL")),
        Index("uq_live_copy_article", "licence_id", "article_id", unique=True,
              sqlite_where=text("retired_at IS NULL"), postgresql_where=text("retired_at IS NULL")),
        Index("ix_live_copy_licence_article", "licence_id", "article_id", "retired_at"),
    )

    id: str = Field(default_factory=lambda: new_id("cpy"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40)
    slot: int | None = None
    live_since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "partner" (retired through the API or the portal) or "withdrawn" (the publisher took the article down)
    retired_by: str | None = Field(default=None, max_length=20)


class SigningKey(SQLModel, table=True):
    """A key that signs licence tokens. The private half is encrypted with the app secret; the
    public half is published as a JWK. A retired key no longer signs but still verifies until the
    longest-lived token it signed has expired."""

    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=40)
    algorithm: str = Field(default="ES256", max_length=10)
    private_key_encrypted: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verify_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LicenceToken(SQLModel, table=True):
    """One row per minted token (by `jti`), so a single token can be revoked."""

    __tablename__ = "licence_token"
    __table_args__ = (Index("ix_licence_token_licence", "licence_id", "issued_at"),
                      Index("ix_licence_token_revoked", "revoked_at"))

    jti: str = Field(primary_key=True, max_length=64)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    kid: str = Field(foreign_key="signing_key.kid", max_length=40)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryGeneration(SQLModel, table=True):
    """Change counters that API processes poll (every ~0.5 s) to drop cached licences, revoked
    tokens and signing keys changed by another process."""

    __tablename__ = "delivery_generation"

    name: str = Field(primary_key=True, max_length=20)  # licence | token | key
    value: int = 0


class WebhookEndpoint(SQLModel, table=True):
    """A partner's URL for corrections and takedowns, signed per Standard Webhooks."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_partner", "partner_id", "id"),)

    id: str = Field(default_factory=lambda: new_id("whe"), primary_key=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    url: str = Field(max_length=1000)
    description: str | None = Field(default=None, max_length=500)
    secret_encrypted: str = Field(max_length=500, repr=False)
    # After a rotation the old secret still signs deliveries (a second signature) until it expires.
    previous_secret_encrypted: str | None = Field(default=None, max_length=500, repr=False)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the endpoint answered 410 Gone: nothing is sent until the partner enables it again.
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint, with every attempt made to deliver it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
                      UniqueConstraint("endpoint_id", "event_key"))

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True, max_length=40)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.id", max_length=40)
    event_key: str = Field(max_length=200)  # dedupes a fan-out that runs twice
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # pending | succeeded | failed | held (its endpoint is disabled; sent once the partner enables it)
    status: str = Field(default="pending", max_length=12)
    attempts: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
