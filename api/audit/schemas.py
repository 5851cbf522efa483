from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from api.audit.models import AuditEntry

EXAMPLE: JsonDict = {
    "id": "aud_01jdz3k4m5n6p7q8r9s0t1v2w3", "at": "2026-11-25T12:00:00Z", "actor_type": "staff",
    "actor_id": "stf_01jdz3k4m5n6p7q8r9s0t1v2w3", "action": "partner.active", "object_type": "partner",
    "object_id": "ptn_01jdz3k4m5n6p7q8r9s0t1v2w3", "partner_id": "ptn_01jdz3k4m5n6p7q8r9s0t1v2w3",
    "before": {"status": "pending"}, "after": {"status": "active"}, "request_id": "5f0c2a9e8b7d4c3e",
}


class AuditEntryRead(BaseModel):
    """One line of the append-only audit trail: who did what to which object, before and after."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE]})
    id: str
    at: datetime
    actor_type: str = Field(description="`staff`, `partner` or `system`.")
    actor_id: str | None = Field(description="Who acted; for partners reading their trail, staff are not named.")
    action: str = Field(examples=["partner.active"])
    object_type: str
    object_id: str
    partner_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None = Field(description="The `X-Request-ID` of the API call that made the change.")

    @classmethod
    def for_partner(cls, entry: AuditEntry) -> AuditEntryRead:
        """The entry as its partner sees it: which staff member acted is the desk's business."""
        read = cls.model_validate(entry)
        if read.actor_type == "staff":
            read.actor_id = None
        return read
