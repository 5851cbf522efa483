from __future__ import annotations

import pytest
from sqlmodel import select

from tests.builders import STAFF_PASSWORD, make_staff, staff_headers


def test_login_me_and_logout(client, session) -> None:
    headers = staff_headers(client, session, roles=["licensing"])
    me = client.get("/v1/staff/me", headers=headers)
    assert me.status_code == 200 and me.json()["roles"] == ["licensing"]
    assert client.post("/v1/staff/logout", headers=headers).status_code == 204
    after = client.get("/v1/staff/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["type"] == "/problems/session-expired" and after.json()["reason"] == "ended"


def test_wrong_password_is_refused(client, session) -> None:
    user = make_staff(session, roles=["editor"])
    session.commit()
    response = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD + "x"})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/bad-credentials"


def test_roles_are_enforced(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    response = client.get("/v1/staff/users", headers=editor)
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/role-required"
    admin = staff_headers(client, session, roles=["admin"])
    created = client.post("/v1/staff/users", headers=admin, json={
        "email": "fin@example.com", "name": "Fin", "password": "long-enough-password", "roles": ["finance"]})
    assert created.status_code == 201, created.text
    bad_role = client.post("/v1/staff/users", headers=admin, json={
        "email": "x@example.com", "name": "X", "password": "long-enough-password", "roles": ["wizard"]})
    assert bad_role.status_code == 422 and bad_role.json()["type"] == "/problems/unknown-role"


def test_tampered_token_is_refused(client, session) -> None:
    headers = staff_headers(client, session)
    token = headers["Authorization"].removeprefix("Bearer ")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get("/v1/staff/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_staff_users_are_a_keyset_page(client, session) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    for n in range(4):
        make_staff(session, roles=["editor"], email=f"page{n}@example.com")
    session.commit()
    first = client.get("/v1/staff/users", headers=admin, params={"limit": 3})
    assert first.status_code == 200, first.text
    page1 = first.json()
    assert len(page1["items"]) == 3 and page1["next_cursor"]
    page2 = client.get("/v1/staff/users", headers=admin, params={"limit": 3, "cursor": page1["next_cursor"]}).json()
    emails = [u["email"] for u in page1["items"] + page2["items"]]
    assert len(emails) == 5 and emails == sorted(emails) and page2["next_cursor"] is None
    assert "password_hash" not in first.text
    bad = client.get("/v1/staff/users", headers=admin, params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/bad-cursor"


def _token_claims(token: str, settings) -> dict:
    from jose import jwt

    return jwt.get_unverified_claims(token)


def test_a_token_past_its_exp_is_refused_even_while_its_session_lasts(client, session, settings) -> None:
    from jose import jwt

    from api.staff.service import STAFF_ALGORITHM

    headers = staff_headers(client, session)
    claims = _token_claims(headers["Authorization"].removeprefix("Bearer "), settings)
    expired = jwt.encode({**claims, "exp": claims["iat"] - 1}, settings.secret_key.get_secret_value(),
                         algorithm=STAFF_ALGORITHM)
    response = client.get("/v1/staff/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/session-expired" and response.json()["reason"] == "lifetime"
    assert "at most 12 hours" in response.json()["detail"]
    assert client.get("/v1/staff/me", headers=headers).status_code == 200  # the real token still works


def test_a_session_past_its_end_is_refused(client, session) -> None:
    from datetime import timedelta

    from api.core.db import utcnow
    from api.staff.models import StaffSession

    headers = staff_headers(client, session)
    session.expire_all()
    for staff_session in session.exec(select(StaffSession)).all():
        staff_session.expires_at = utcnow() - timedelta(seconds=1)
        session.add(staff_session)
    session.commit()
    response = client.get("/v1/staff/me", headers=headers)
    assert response.status_code == 401 and response.json()["type"] == "/problems/session-expired"
    assert response.json()["reason"] == "lifetime"


def test_a_disabled_user_is_refused_at_once_and_cannot_log_in(client, session) -> None:
    admin = staff_headers(client, session, roles=["admin"])
    editor = make_staff(session, roles=["editor"])
    session.commit()
    login = client.post("/v1/staff/login", json={"email": editor.email, "password": STAFF_PASSWORD})
    editor_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert client.get("/v1/staff/me", headers=editor_headers).status_code == 200
    disabled = client.patch(f"/v1/staff/users/{editor.id}", headers=admin, json={"roles": ["editor"], "active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    refused = client.get("/v1/staff/me", headers=editor_headers)
    assert refused.status_code == 401 and refused.json()["type"] == "/problems/session-expired"
    assert refused.json()["reason"] == "disabled"
    again = client.post("/v1/staff/login", json={"email": editor.email, "password": STAFF_PASSWORD})
    assert again.status_code == 401 and again.json()["type"] == "/problems/bad-credentials"
    missing = client.patch("/v1/staff/users/stf_nobody", headers=admin, json={"roles": ["editor"]})
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/staff-not-found"


def test_accounts_on_internal_domains_can_log_in(client, session) -> None:
    user = make_staff(session, roles=["licensing"], email="desk@syndicate.local")
    session.commit()
    response = client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text


# --- login floods ------------------------------------------------------------------------------


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_logins_past_the_per_address_limit_get_429_with_retry_after(settings, session, shared) -> None:
    import secrets

    from fastapi.testclient import TestClient

    from api.app import create_app

    limited = settings.model_copy(update={"login_rate_limit": "3/minute", "redis_url": REDIS_URL if shared else None})
    # With Redis, two API workers count together; in process, one app is one worker.
    workers = [create_app(limited, run_worker=False) for _ in range(2 if shared else 1)]
    address = f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"  # a fresh counter each run
    user = make_staff(session, roles=["editor"])
    session.commit()
    clients = [TestClient(w, raise_server_exceptions=False, client=(address, 50000)) for w in workers]
    try:
        answers = [clients[n % len(clients)].post("/v1/staff/login", json={"email": user.email, "password": "wrong-password"})
                   for n in range(3)]
        assert [a.status_code for a in answers] == [401, 401, 401]
        refused = clients[-1].post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/login-rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        spoofed = clients[0].post("/v1/staff/login", headers={"X-Forwarded-For": "203.0.113.9"},
                                  json={"email": user.email, "password": STAFF_PASSWORD})
        assert spoofed.status_code == 429  # the connection's address counts, not a header the client sets
        elsewhere = TestClient(workers[0], client=("192.0.2.1" + secrets.token_hex(2), 50000))
        assert elsewhere.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD}).status_code == 200
    finally:
        for w in workers:
            w.state.engine.dispose()


async def test_waiting_logins_do_not_starve_synchronous_endpoints(app, session, production_password_hashing) -> None:
    """Each login waits for an Argon2 slot without holding a thread: with a thread pool no bigger
    than the hashing slots, a synchronous endpoint still answers while a queue of logins is served
    (at production strength: cheap hashes finish before the probe is sent)."""
    import asyncio

    import httpx
    from anyio import to_thread

    user = make_staff(session, roles=["editor"])
    session.commit()
    to_thread.current_default_thread_limiter().total_tokens = 2
    finished: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async def log_in(n: int) -> None:
            response = await client.post("/v1/staff/login", json={"email": user.email, "password": STAFF_PASSWORD})
            assert response.status_code == 200, response.text
            finished.append(f"login {n}")

        async def probe() -> None:
            await asyncio.sleep(0.05)  # the logins are queued by now
            response = await client.get("/v1/staff/users")  # sync route (401 without a token)
            assert response.status_code == 401
            finished.append("probe")

        await asyncio.gather(*(log_in(n) for n in range(8)), probe())
    assert finished.index("probe") < len(finished) - 1, finished
    assert finished.index("probe") <= 4, finished
