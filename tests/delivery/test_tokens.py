"""Minting, rotation, JWKS, revocation, and the token attack suite."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from api.audit.service import Actor
from api.core.db import session_scope, utcnow
from api.delivery import keys, service
from api.licensing import grants, licences
from tests.builders import make_api_key, make_article, make_licence, make_partner
from tests.delivery.conftest import bearer, mint


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(settings, licensed, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": licensed.partner.id,
              "lic": licensed.licence.id, "scope": "bundle", "iat": now, "nbf": now, "exp": now + 600, "jti": f"forged-{now}"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign_with_real_key(engine, settings, claims: dict) -> str:
    with session_scope(engine) as session:
        key = keys.current_key(session, settings)
        pem, kid = keys.private_pem(settings, key), key.kid
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": kid})


def _assert_refused(client, article_id: str, token: str, status: int = 401) -> dict:
    response = client.get(f"/v1/content/articles/{article_id}", headers=bearer(token))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("/problems/") and problem["detail"]
    return problem


def test_minted_token_has_every_claim_and_a_kid(client, licensed, settings):
    minted = mint(client, licensed)
    header = jwt.get_unverified_header(minted["token"])
    claims = jwt.get_unverified_claims(minted["token"])
    assert header["alg"] == "ES256" and header["kid"] == minted["kid"]
    assert {"iss", "aud", "sub", "lic", "scope", "iat", "nbf", "exp", "jti"} <= set(claims)
    assert claims["sub"] == licensed.partner.id and claims["lic"] == licensed.licence.id and claims["scope"] == "bundle"
    assert claims["aud"] == settings.jwt_audience and claims["iss"] == settings.jwt_issuer
    assert claims["exp"] <= licensed.licence.ends_at.timestamp()


def test_token_never_outlives_the_licence(client, session):
    partner = make_partner(session)
    api_key = make_api_key(session, partner)
    licence = make_licence(session, partner=partner, articles=[make_article(session)], days=0)
    licence.ends_at = utcnow() + timedelta(minutes=5)
    session.add(licence)
    session.commit()
    response = client.post(f"/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key})
    assert response.status_code == 201, response.text
    assert jwt.get_unverified_claims(response.json()["token"])["exp"] <= int(licence.ends_at.timestamp())


def test_only_active_own_licences_mint_tokens(client, session, licensed):
    other = make_partner(session)
    other_licence = make_licence(session, partner=other, articles=licensed.articles)
    unpaid = make_licence(session, partner=licensed.partner, articles=licensed.articles, amount=5000)
    session.commit()
    response = client.post(f"/v1/licences/{other_licence.id}/tokens", headers=licensed.key_headers)
    assert response.status_code == 404 and response.json()["type"] == "/problems/licence-not-found"
    response = client.post(f"/v1/licences/{unpaid.id}/tokens", headers=licensed.key_headers)
    assert response.status_code == 409 and "awaiting_payment" in response.json()["detail"]
    assert client.post(f"/v1/licences/{licensed.licence.id}/tokens").status_code == 401


def test_jwks_publishes_public_keys_only(client, licensed):
    kid = mint(client, licensed)["kid"]
    document = client.get("/.well-known/jwks.json").json()
    [key] = [k for k in document["keys"] if k["kid"] == kid]
    assert key["kty"] == "EC" and key["alg"] == "ES256" and "d" not in key


def test_rotation_signs_with_the_new_key_and_old_tokens_keep_working(client, licensed, engine, settings):
    old = mint(client, licensed)
    with session_scope(engine) as session:
        new_kid = service.rotate_keys(session, settings)
    new = mint(client, licensed)
    assert new["kid"] == new_kid != old["kid"]
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert {old["kid"], new_kid} <= kids
    article = licensed.articles[1].id
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(old["token"])).status_code == 200
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(new["token"])).status_code == 200


def test_revoking_a_token_stops_it_at_once(client, licensed):
    minted = mint(client, licensed)
    other = mint(client, licensed)
    article = licensed.articles[1].id
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(minted["token"])).status_code == 200
    response = client.delete(f"/v1/licences/{licensed.licence.id}/tokens/{minted['jti']}", headers=licensed.key_headers)
    assert response.status_code == 204
    assert _assert_refused(client, article, minted["token"])["type"] == "/problems/token-revoked"
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(other["token"])).status_code == 200
    listed = client.get(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers).json()["items"]
    assert {t["jti"]: t["revoked_at"] is not None for t in listed} == {minted["jti"]: True, other["jti"]: False}


def test_suspending_revoking_or_expiring_the_licence_stops_its_tokens(client, session, licensed):
    token = mint(client, licensed)["token"]
    article = licensed.articles[1].id
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(token)).status_code == 200
    licence = grants.get_licence(session, licensed.licence.id)
    grants.suspend(session, licence, actor=Actor.system(), reason="payment failed")
    session.commit()
    problem = _assert_refused(client, article, token, 403)
    assert problem["type"] == "/problems/licence-not-active" and "suspended" in problem["detail"]
    grants.activate(session, licence, actor=Actor.system())
    session.commit()
    assert client.get(f"/v1/content/articles/{article}", headers=bearer(token)).status_code == 200
    licences.revoke(session, licence.id, actor=Actor.system(), reason="breach")
    session.commit()
    assert _assert_refused(client, article, token, 403)["licence_status"] == "revoked"


def test_expired_licence_stops_its_tokens(client, session, licensed):
    token = mint(client, licensed)["token"]
    licence = grants.get_licence(session, licensed.licence.id)
    grants.expire(session, licence, actor=Actor.system())
    session.commit()
    _assert_refused(client, licensed.articles[0].id, token, 403)


# --- the attack suite ------------------------------------------------------------------------------

def test_alg_none_is_refused(client, licensed, settings):
    kid = mint(client, licensed)["kid"]
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(settings, licensed)).encode())
    _assert_refused(client, licensed.articles[0].id, f"{header}.{payload}.")


def test_hmac_signed_with_the_public_key_is_refused(client, licensed, settings):
    kid = mint(client, licensed)["kid"]
    jwk_doc = next(k for k in client.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
    from jose import jwk as jose_jwk

    public_pem = jose_jwk.construct(jwk_doc, "ES256").to_pem()
    header = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(settings, licensed)).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    _assert_refused(client, licensed.articles[0].id, f"{header}.{payload}.{signature}")


def test_wrong_or_unknown_kid_is_refused(client, licensed, settings):
    real_kid = mint(client, licensed)["kid"]
    attacker = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for kid in ("kid_nobody", real_kid):
        token = jwt.encode(_claims(settings, licensed), attacker, algorithm="ES256", headers={"kid": kid})
        _assert_refused(client, licensed.articles[0].id, token)
    no_kid = jwt.encode(_claims(settings, licensed), attacker, algorithm="ES256")
    _assert_refused(client, licensed.articles[0].id, no_kid)


def test_missing_or_wrong_audience_and_issuer_are_refused(client, licensed, settings, engine):
    mint(client, licensed)
    article = licensed.articles[0].id
    for overrides in ({"aud": None}, {"aud": "someone-else"}, {"iss": None}, {"iss": "https://evil.example"},
                      {"jti": None}, {"lic": None}, {"exp": None}, {"nbf": None}):
        token = _sign_with_real_key(engine, settings, _claims(settings, licensed, **overrides))
        _assert_refused(client, article, token)


def test_expired_and_not_yet_valid_tokens_are_refused(client, licensed, settings, engine):
    now = int(time.time())
    article = licensed.articles[0].id
    expired = _sign_with_real_key(engine, settings, _claims(settings, licensed, iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    early = _sign_with_real_key(engine, settings, _claims(settings, licensed, nbf=now + 3600, exp=now + 7200))
    assert "expired" in _assert_refused(client, article, expired)["detail"].lower()
    _assert_refused(client, article, early)


def test_a_correctly_signed_forgery_still_works_only_for_its_licence(client, session, licensed, settings, engine):
    """Sanity check of the helpers above: a well-formed token signed with our key is accepted."""
    token = _sign_with_real_key(engine, settings, _claims(settings, licensed))
    assert client.get(f"/v1/content/articles/{licensed.articles[0].id}", headers=bearer(token)).status_code == 200


def test_another_licences_article_is_forbidden(client, session, licensed):
    outside = make_article(session)
    session.commit()
    token = mint(client, licensed)["token"]
    assert _assert_refused(client, outside.id, token, 403)["type"] == "/problems/not-covered"


def test_tampered_payload_is_refused(client, session, licensed, settings):
    other = make_licence(session, partner=licensed.partner, articles=[make_article(session)])
    session.commit()
    header, payload, signature = mint(client, licensed)["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["lic"] = other.id
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    _assert_refused(client, licensed.articles[0].id, forged)


def test_encrypted_five_part_and_garbage_tokens_are_refused(client, licensed):
    article = licensed.articles[0].id
    _assert_refused(client, article, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d")
    _assert_refused(client, article, "not-a-token")
    response = client.get(f"/v1/content/articles/{article}")
    assert response.status_code == 401 and response.json()["type"] == "/problems/invalid-token"


def test_token_in_query_string_works(client, licensed):
    token = mint(client, licensed)["token"]
    assert client.get(f"/v1/content/articles/{licensed.articles[0].id}", params={"token": token}).status_code == 200
