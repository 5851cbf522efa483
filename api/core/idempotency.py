"""Idempotency keys for POSTs that create money or licences (any domain may use this).

The first request with a key stores a fingerprint of its body and, once handled, its response.
A retry with the same key and body gets that stored response back (same status, same body);
the same key with another body is refused with `/problems/idempotency-key-reused` (422), a key
whose first request is still being handled with 409, and a malformed or over-long key with 400, as
the IETF draft (httpapi-idempotency-key-header) and Stripe do.

Concurrency: the record is inserted inside the caller's transaction, and `(scope, key)` is
unique. A second request racing with the same key blocks on the unique index (PostgreSQL) or on
the write lock (SQLite, `BEGIN IMMEDIATE`) until the first commits, then sees its record and
replays it, so the work is done once. Keys are kept for `RETENTION`; `purge_expired` deletes
older ones.

Usage in a route::

    claim = idempotency.claim(session, scope=f"partner:{p.id}:licence-requests", key=key, body=body)
    if claim.replay:
        return claim.response()
    ... do the work ...
    return claim.respond(status_code=201, content=result)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from api.core.db import UTCDateTime, new_id, utcnow
from api.core.errors import IdempotencyKeyInProgress, IdempotencyKeyInvalid, IdempotencyKeyReused

RETENTION = timedelta(days=7)
MAX_KEY_LENGTH = 255  # Stripe's limit; stated in the contract on every operation that takes the header
# Printable ASCII, no surrounding spaces; the draft's Structured Field quoting ("...") is accepted too.
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: str = Field(default_factory=lambda: new_id("idk"), primary_key=True, max_length=40)
    # Who the key belongs to and what it is for, e.g. "partner:ptn_...:licence-requests".
    scope: str = Field(max_length=200)
    key: str = Field(max_length=MAX_KEY_LENGTH)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response_body: Any = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


def fingerprint(body: Any) -> str:
    """SHA-256 of the body as canonical JSON (sorted keys), so key order and spacing do not matter."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_unset=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Claim:
    record: IdempotencyRecord | None
    replay: bool
    session: Session | None = None

    def response(self):  # -> JSONResponse; fastapi imported lazily so services may use Claim
        from fastapi.responses import JSONResponse

        assert self.record is not None and self.record.status_code is not None
        return JSONResponse(self.record.response_body, status_code=self.record.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def respond(self, *, status_code: int, content: Any):
        """Store the response (when a key was given) and return it as a JSONResponse."""
        from fastapi.responses import JSONResponse

        if isinstance(content, BaseModel):
            content = content.model_dump(mode="json")
        if self.record is not None and self.session is not None:
            self.record.status_code = status_code
            self.record.response_body = content
            self.session.add(self.record)
            self.session.flush()
        return JSONResponse(content, status_code=status_code)


def claim(session: Session, *, scope: str, key: str | None, body: Any) -> Claim:
    """Reserve `key` for this body, or find the earlier request that used it.

    With no key, returns a claim that simply passes the response through.
    """
    if key is None:
        return Claim(record=None, replay=False)
    key = valid_key(key)
    digest = fingerprint(body)
    existing = _find(session, scope, key)
    if existing is None:
        record = IdempotencyRecord(scope=scope, key=key, fingerprint=digest)
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
            return Claim(record=record, replay=False, session=session)
        except IntegrityError:
            # Another request committed this key while we waited on the unique index.
            existing = _find(session, scope, key)
            if existing is None:  # pragma: no cover - the conflicting row must exist
                raise
    if existing.fingerprint != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body; "
            "use a new key for a new request, or resend the original body to get its result.",
        )
    if existing.status_code is None:  # claimed but not answered: the first request is still running
        raise IdempotencyKeyInProgress("The first request with this Idempotency-Key is still being handled; retry shortly.")
    return Claim(record=existing, replay=True)


def valid_key(key: str) -> str:
    """The key itself (unquoted), or IdempotencyKeyInvalid naming what is wrong with it."""
    if len(key) > 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _KEY.match(key) or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"Send an Idempotency-Key of 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is ideal).")
    return key


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def purge_expired(session: Session, *, older_than: timedelta = RETENTION) -> int:
    result = session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < utcnow() - older_than))
    session.flush()
    return result.rowcount or 0
