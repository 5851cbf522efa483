from __future__ import annotations

from tests.builders import STAFF_PASSWORD, make_staff, staff_headers


def test_login_me_and_logout(client, session) -> None:
    headers = staff_headers(client, session, roles=["licensing"])
    me = client.get("/v1/staff/me", headers=headers)
    assert me.status_code == 200 and me.json()["roles"] == ["licensing"]
    assert client.post("/v1/staff/logout", headers=headers).status_code == 204
    after = client.get("/v1/staff/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["type"] == "/problems/unauthenticated"


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
