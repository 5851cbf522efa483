"""Licence tokens: the ONE module that signs and verifies them (so the JWT library can be swapped).

RFC 8725 in practice: five-part tokens (JWE) are refused before decoding; each `kid` maps to one
pinned algorithm and one key object built once; every claim is required; audience and issuer
must match. Verified claims are cached by raw token until `exp`, but revocation is checked on
every request by the caller, so it takes effect at once.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import JOSEError
from sqlmodel import Session

from api.core.config import Settings
from api.core.db import utcnow
from api.delivery import keys as signing_keys
from api.delivery.errors import InvalidToken
from api.delivery.models import LicenceToken, SigningKey
from api.licensing.models import Licence

REQUIRED_CLAIMS = ("iss", "aud", "sub", "lic", "scope", "iat", "nbf", "exp", "jti")
_NEVER = -math.inf  # the deadline of a key that is not loaded
_OPTIONS = {"require_" + c: True for c in ("aud", "iss", "sub", "iat", "nbf", "exp", "jti")} | {"leeway": 0}


@dataclass(frozen=True, slots=True)
class Claims:
    jti: str
    licence_id: str
    partner_id: str
    scope: str
    kid: str
    nbf: float
    exp: float


def mint(session: Session, settings: Settings, licence: Licence, *, minutes: int | None = None) -> tuple[str, LicenceToken]:
    """Sign a token for `licence`; it never outlives the licence. The caller checks the licence is active."""
    key = signing_keys.current_key(session, settings)
    now = utcnow().replace(microsecond=0)
    lifetime = timedelta(minutes=min(minutes or settings.licence_token_minutes, settings.licence_token_minutes))
    expires = min(now + lifetime, licence.ends_at)
    jti = secrets.token_urlsafe(18)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": licence.partner_id, "lic": licence.id,
        "scope": str(licence.scope), "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()), "jti": jti,
    }
    raw = jwt.encode(claims, signing_keys.private_pem(settings, key), algorithm=key.algorithm,
                     headers={"kid": key.kid, "typ": "JWT"})
    row = LicenceToken(jti=jti, licence_id=licence.id, partner_id=licence.partner_id, kid=key.kid,
                       issued_at=now, expires_at=datetime.fromtimestamp(claims["exp"], tz=now.tzinfo))
    session.add(row)
    session.flush()
    return raw, row


class TokenVerifier:
    """Verifies licence tokens against the published keys; safe to share between threads."""

    def __init__(self, *, issuer: str, audience: str, cache_size: int = 50_000) -> None:
        self.issuer = issuer
        self.audience = audience
        self._keys: dict[str, tuple[str, Key]] = {}
        self._verify_until: dict[str, float] = {}
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def load_keys(self, rows: list[SigningKey]) -> None:
        keys = {row.kid: (row.algorithm, jwk.construct(dict(row.public_jwk), row.algorithm)) for row in rows}
        # A retired key stops verifying at `verify_until` even if nothing reloads the keys by then.
        # Deadlines first: a thread verifying meanwhile never sees a key without its deadline.
        self._verify_until = {row.kid: row.verify_until.timestamp() if row.verify_until else math.inf for row in rows}
        self._keys = keys
        self._cache.clear()

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def cached(self, raw: str) -> Claims | None:
        """The claims of an already-verified token that is still within its validity window and
        whose key still verifies (a cache filled before a reload must not outlive the key)."""
        claims = self._cache.get(raw)
        if claims is not None:
            now = time.time()
            if claims.nbf <= now < claims.exp and now < self._verify_until.get(claims.kid, _NEVER):
                return claims
        return None

    def kid_of(self, raw: str) -> str:
        return self._header(raw)[0]

    def _header(self, raw: str) -> tuple[str, Any]:
        """The token's `kid` and `alg`, read once (jose's decode reads the header again itself)."""
        if raw.count(".") != 2:
            raise InvalidToken("A licence token is a signed JWT of three dot-separated parts; encrypted (JWE) or "
                               "malformed tokens are refused. Mint one with POST /v1/licences/{id}/tokens.")
        try:
            header = jwt.get_unverified_header(raw)
        except JOSEError as exc:
            raise InvalidToken("The token header cannot be read; mint a new token.") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("The token has no `kid` header; mint a new token.")
        return kid, header.get("alg")

    def verify(self, raw: str) -> Claims:
        claims = self.cached(raw)
        if claims is not None:
            return claims
        kid, alg = self._header(raw)
        pinned = self._keys.get(kid)
        if pinned is None or time.time() >= self._verify_until.get(kid, _NEVER):
            raise InvalidToken(f"The token was signed with an unknown or retired key ({kid}); mint a new token.")
        algorithm, key = pinned
        if alg != algorithm:
            raise InvalidToken(f"Tokens signed with key {kid} must use {algorithm}.")
        try:
            payload = jwt.decode(raw, key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                                 options=_OPTIONS)
        except JOSEError as exc:
            raise InvalidToken(f"The token is not valid: {exc}. Mint a new token.") from exc
        if any(payload.get(name) in (None, "") for name in REQUIRED_CLAIMS):
            missing = ", ".join(n for n in REQUIRED_CLAIMS if payload.get(n) in (None, ""))
            raise InvalidToken(f"The token lacks required claims ({missing}); mint a new token.")
        if not all(isinstance(payload[n], str) for n in ("sub", "lic", "scope", "jti")):
            raise InvalidToken("The token's claims have the wrong types; mint a new token.")
        claims = Claims(jti=payload["jti"], licence_id=payload["lic"], partner_id=payload["sub"],
                        scope=payload["scope"], kid=kid, nbf=float(payload["nbf"]), exp=float(payload["exp"]))
        with self._lock:
            self._cache[raw] = claims
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return claims
