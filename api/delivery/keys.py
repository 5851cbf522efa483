"""Token signing keys: created, rotated, published as a JWK set.

Private keys are stored encrypted with a key derived from the app secret (never logged, never
returned); only the public half ever leaves this module.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from sqlalchemy import or_
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.config import Settings
from api.core.db import new_id, utcnow
from api.delivery.errors import SigningKeyNotFound
from api.delivery.models import SigningKey

ALGORITHM = "ES256"


def _fernet(settings: Settings, purpose: str) -> Fernet:
    digest = hashlib.sha256(f"{purpose}:{settings.secret_key.get_secret_value()}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(settings: Settings, purpose: str, value: str) -> str:
    return _fernet(settings, purpose).encrypt(value.encode()).decode()


def decrypt(settings: Settings, purpose: str, value: str) -> str:
    return _fernet(settings, purpose).decrypt(value.encode()).decode()


def create_key(session: Session, settings: Settings) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = new_id("kid")
    public = jwk.construct(public_pem, ALGORITHM).to_dict()
    public.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    key = SigningKey(kid=kid, algorithm=ALGORITHM, public_jwk=public,
                     private_key_encrypted=encrypt(settings, "signing-key", private_pem))
    session.add(key)
    session.flush()
    from api.delivery.invalidation import bump

    bump(session, "key")
    return key


def current_key(session: Session, settings: Settings) -> SigningKey:
    """The key new tokens are signed with (created on first use)."""
    key = session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))
                       .order_by(col(SigningKey.created_at).desc())).first()
    return key or create_key(session, settings)


def rotate(session: Session, settings: Settings) -> SigningKey:
    """A new signing key; the previous ones stop signing but verify until their tokens have expired."""
    now = utcnow()
    lifetime = timedelta(minutes=settings.licence_token_minutes)
    for old in session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))).all():
        old.retired_at = now
        old.verify_until = now + lifetime
        session.add(old)
    return create_key(session, settings)


def retire(session: Session, settings: Settings, kid: str, *, actor: audit.Actor) -> SigningKey:
    """Stop `kid` verifying now (a leaked or unwanted key): its tokens are refused in every process
    within the delivery poll and the JWKS no longer lists it. Retiring the signing key starts a new one."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise SigningKeyNotFound(f"No signing key {kid}; `syndicate keys list` shows the keys that verify.")
    now = utcnow()
    if key.verify_until is not None and key.verify_until <= now:
        return key  # already retired: nothing to change, nothing to audit
    was_signing = key.retired_at is None
    before = {"signing": was_signing, "verify_until": key.verify_until.isoformat() if key.verify_until else None}
    key.retired_at = key.retired_at or now
    key.verify_until = now
    session.add(key)
    session.flush()
    from api.delivery.invalidation import bump

    bump(session, "key")  # every process reloads its verification keys (and drops tokens verified with this one)
    audit.record(session, actor=actor, action="signing_key.retired", object_type="signing_key", object_id=kid,
                 before=before, after={"signing": False, "verify_until": now.isoformat()})
    if was_signing:
        create_key(session, settings)
    return key


def verification_keys(session: Session) -> list[SigningKey]:
    """Keys whose tokens may still be valid: the current one and retired ones within their window."""
    now = utcnow()
    stmt = select(SigningKey).where(or_(col(SigningKey.verify_until).is_(None), col(SigningKey.verify_until) > now))
    return list(session.exec(stmt.order_by(col(SigningKey.created_at).desc())).all())


def jwks(session: Session) -> dict[str, Any]:
    return {"keys": [dict(k.public_jwk) for k in verification_keys(session)]}


def private_pem(settings: Settings, key: SigningKey) -> str:
    return decrypt(settings, "signing-key", key.private_key_encrypted)
