"""API keys: shown once, stored as a SHA-256 hash (they are long random strings, so a fast
hash is safe), looked up by hash in one indexed query.

Format: `synd_` + 32 random base62 characters + a 6-character base62 CRC32 of those 32 (the
shape GitHub gives its tokens). The prefix lets a secret scanner recognise a Syndicate key (and
never mistake it for Stripe's `sk_live_`); the checksum lets a scanner, and `authenticate_key`,
reject a typo or a made-up string without a database look-up. Keys issued before this format
(`sk_live_...`, no checksum) keep working until revoked."""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.core.errors import Unauthenticated
from api.core.pagination import keyset_page
from api.partners.models import ApiKey, Partner, PartnerStatus
from api.partners.errors import ApiKeyNotFound, LastApiKey, TooManyApiKeys

KEY_PREFIX = "synd_"
LEGACY_KEY_PREFIX = "sk_live_"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_RANDOM_LENGTH = 32
_CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _checksum(random_part: str) -> str:
    value = zlib.crc32(random_part.encode())
    digits = []
    for _ in range(_CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def generate_key(seed: bytes | None = None) -> tuple[str, str]:
    """Return (raw key, visible prefix): random, or derived from `seed` (the demo's stable key)."""
    if seed is None:
        random_part = "".join(secrets.choice(_BASE62) for _ in range(_RANDOM_LENGTH))
    else:
        digest = int.from_bytes(hashlib.sha256(seed).digest(), "big")
        random_part = "".join(_BASE62[(digest >> (6 * i)) % 62] for i in range(_RANDOM_LENGTH))
    raw = KEY_PREFIX + random_part + _checksum(random_part)
    return raw, raw[: len(KEY_PREFIX) + 6]


def is_well_formed(raw: str) -> bool:
    """True for a current-format key whose checksum holds, and for any legacy `sk_live_` key (those
    carry no checksum; the database decides)."""
    if raw.startswith(LEGACY_KEY_PREFIX):
        return True
    if len(raw) != KEY_LENGTH or not raw.startswith(KEY_PREFIX):
        return False
    body = raw[len(KEY_PREFIX):]
    random_part, checksum = body[:_RANDOM_LENGTH], body[_RANDOM_LENGTH:]
    return all(c in _BASE62 for c in body) and _checksum(random_part) == checksum


def issue_key(session: Session, *, partner_id: str, name: str, seed: bytes | None = None) -> tuple[ApiKey, str]:
    raw, prefix = generate_key(seed)
    key = ApiKey(partner_id=partner_id, name=name, prefix=prefix, key_hash=hash_key(raw))
    session.add(key)
    session.flush()
    return key, raw


def find_key(session: Session, raw: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(raw))).first()


def authenticate_key(session: Session, raw: str) -> tuple[Partner, ApiKey]:
    if not is_well_formed(raw):
        raise Unauthenticated("The API key is malformed (a Syndicate key is `synd_` followed by 38 letters and digits); check it was copied whole.")
    key = find_key(session, raw)
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


# --- self-service key management -------------------------------------------------------------

MAX_ACTIVE_KEYS = 20


def _active_keys(session: Session, partner_id: str) -> int:
    # Lock the partner row first (PostgreSQL; SQLite transactions are already serial) so two
    # concurrent revocations cannot both see "another key is left" and lock the account out.
    session.exec(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    return session.exec(
        select(func.count()).select_from(ApiKey).where(col(ApiKey.partner_id) == partner_id, col(ApiKey.revoked_at).is_(None))
    ).one()


def create_key(session: Session, *, partner_id: str, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """Issue a named key (audited); return it with the raw key, which is never stored."""
    if _active_keys(session, partner_id) >= MAX_ACTIVE_KEYS:
        raise TooManyApiKeys(f"An account can hold {MAX_ACTIVE_KEYS} active keys; revoke one you no longer use first.")
    key, raw = issue_key(session, partner_id=partner_id, name=name.strip())
    audit.record(session, actor=actor, action="api_key.created", object_type="api_key", object_id=key.id,
                 partner_id=partner_id, after={"name": key.name, "prefix": key.prefix})
    return key, raw


def list_keys(session: Session, *, partner_id: str, cursor: str | None = None, limit: int = 50
              ) -> tuple[list[ApiKey], str | None]:
    stmt = select(ApiKey).where(ApiKey.partner_id == partner_id)
    return keyset_page(session, stmt, columns=[col(ApiKey.created_at), col(ApiKey.id)], kinds=[datetime, str], cursor=cursor,
                       limit=limit)


def get_key(session: Session, *, partner_id: str, key_id: str) -> ApiKey:
    """The partner's key; another partner's key id is simply not found."""
    key = session.get(ApiKey, key_id)
    if key is None or key.partner_id != partner_id:
        raise ApiKeyNotFound(f"No API key {key_id} on this partner account.")
    return key


def revoke_key(session: Session, *, partner_id: str, key_id: str, actor: Actor, allow_last: bool = False) -> ApiKey:
    """Revoke a key at once (idempotent). A partner cannot revoke its last active key (it would lock
    itself out); staff can (`allow_last`), e.g. for a leaked key, and issue a new one."""
    key = get_key(session, partner_id=partner_id, key_id=key_id)
    if key.revoked_at is not None:
        return key
    if not allow_last and _active_keys(session, partner_id) <= 1:
        raise LastApiKey("Create another API key before revoking your last active one, or you could not sign in again.")
    key.revoked_at = utcnow()
    session.add(key)
    audit.record(session, actor=actor, action="api_key.revoked", object_type="api_key", object_id=key.id,
                 partner_id=partner_id, before={"revoked_at": None}, after={"revoked_at": key.revoked_at.isoformat()})
    session.flush()
    return key
