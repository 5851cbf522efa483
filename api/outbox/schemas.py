"""What operators see of outbox messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from api.core.pagination import Page

_EXAMPLE: JsonDict = {
    "id": "obx_01jd7w3m5q8k2t4v6x8z0b2d4f", "topic": "email.send", "status": "dead", "attempts": 82,
    "max_attempts": 82, "next_attempt_at": "2026-11-28T12:00:00Z", "locked_until": None,
    "last_error": "ConnectionRefusedError: [Errno 111] Connection refused", "dedupe_key": "email:staff:request.submitted:lrq_01jd",
    "payload": {"audience": "staff", "subject": "New licence request lrq_01jd..."},
    "created_at": "2026-11-25T12:00:00Z", "done_at": None,
}


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})
    id: str
    topic: str
    status: str = Field(description="`pending` (waiting or retrying), `done`, or `dead` (gave up; retry it to revive).")
    attempts: int = Field(description="Attempts made since it was queued or last revived.")
    max_attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None = Field(description="Set while a worker is delivering it.")
    last_error: str | None
    dedupe_key: str | None
    payload: dict[str, Any]
    created_at: datetime
    done_at: datetime | None


class OutboxMessagePage(Page[OutboxMessageRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE], "next_cursor": None}]})
