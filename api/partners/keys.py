"""API keys: shown once, stored as a SHA-256 hash (they are long random strings, so a fast
hash is safe), looked up by hash in one indexed query."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from api.core.db import utcnow
from api.core.errors import Unauthenticated
from api.partners.models import ApiKey, Partner, PartnerStatus

KEY_PREFIX = "sk_live_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return (raw key, visible prefix)."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[: len(KEY_PREFIX) + 6]


def issue_key(session: Session, *, partner_id: str, name: str) -> tuple[ApiKey, str]:
    raw, prefix = generate_key()
    key = ApiKey(partner_id=partner_id, name=name, prefix=prefix, key_hash=hash_key(raw))
    session.add(key)
    session.flush()
    return key, raw


def authenticate_key(session: Session, raw: str) -> tuple[Partner, ApiKey]:
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(raw))).first()
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("The API key is unknown or revoked.")
    partner = session.get(Partner, key.partner_id)
    if partner is None or partner.status == PartnerStatus.suspended:
        raise Unauthenticated("This partner account is suspended; contact the licensing desk.")
    now = utcnow()
    # Coarse last-used stamp: one write a minute per key, not one per request.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now
        session.add(key)
        session.flush()
    return partner, key
