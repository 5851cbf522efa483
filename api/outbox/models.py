from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class OutboxMessage(SQLModel, table=True):
    """Work that must leave the process only once its transaction has committed."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The claim (status, next_attempt_at) and the operators' "next attempt first" (service.MESSAGE_ORDERS).
        Index("ix_outbox_message_due", "status", "next_attempt_at", "id"),
        Index("ix_outbox_message_next", "next_attempt_at", "id"),
        # The operators' listing (newest first), filtered by status, topic, or both.
        Index("ix_outbox_message_status_id", "status", "id"),
        Index("ix_outbox_message_topic_id", "topic", "id"),
        Index("ix_outbox_message_topic_status_id", "topic", "status", "id"),
        # The claim counts each lane's messages in flight.
        Index("ix_outbox_message_lane", "lane", "status"),
        # Retention deletes done messages delivered before a cut-off (api/outbox/retention.py).
        Index("ix_outbox_message_done", "status", "done_at"),
    )

    id: str = Field(default_factory=lambda: new_id("obx"), primary_key=True, max_length=40)
    topic: str = Field(max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Messages sharing a lane (e.g. one partner webhook endpoint) have a bounded number in flight.
    lane: str | None = Field(default=None, max_length=80)
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    status: str = Field(default="pending", max_length=12)  # pending | done | dead
    attempts: int = 0
    max_attempts: int = 12
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Which worker's claim holds the lease: every step of a delivery checks it is still its own.
    lease_token: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
