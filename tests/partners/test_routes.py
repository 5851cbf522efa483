from __future__ import annotations

import pytest

from api.partners.models import ApiKey, Partner
from tests.builders import make_api_key, make_partner, staff_headers

REGISTRATION = {
    "name": "The Daily Outlet", "website": "https://outlet.example", "country": "gb",
    "billing_email": "accounts@outlet.example", "currency": "gbp",
    "contacts": [{"name": "Amira Haddad", "email": "Amira@outlet.example", "role": "Syndication editor"}],
}


def register(client, **overrides) -> dict:
    response = client.post("/v1/partners/register", json={**REGISTRATION, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def test_self_registration_creates_a_pending_partner_and_a_working_key(client, session) -> None:
    body = register(client)
    partner, api_key = body["partner"], body["api_key"]
    assert partner["status"] == "pending" and partner["verified_at"] is None
    assert partner["country"] == "GB" and partner["currency"] == "GBP"
    assert partner["contacts"][0]["email"] == "amira@outlet.example"
    assert api_key["key"].startswith(api_key["prefix"])
    stored = session.get(ApiKey, api_key["id"])
    assert stored is not None and api_key["key"] not in (stored.key_hash, stored.prefix)
    session.rollback()  # end the read transaction: SQLite lets one writer in at a time

    me = client.get("/v1/partners/me", headers={"X-API-Key": api_key["key"]})
    assert me.status_code == 200 and me.json()["id"] == partner["id"] and me.json()["status"] == "pending"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("country", "XX", "/problems/unknown-country"),
    ("country", "GBR", "/problems/validation"),
    ("currency", "ABC", "/problems/unknown-currency"),
    ("billing_email", "not-an-email", "/problems/validation"),
    ("website", "ftp://outlet.example", "/problems/validation"),
    ("name", "   ", "/problems/validation"),
])
def test_registration_rejects_bad_fields_with_a_specific_problem(client, session, field, value, problem) -> None:
    response = client.post("/v1/partners/register", json={**REGISTRATION, field: value})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == problem
    if problem == "/problems/validation":
        assert body["errors"][0]["field"] == f"body.{field}"
    else:
        assert body["field"] == field and value in body["detail"]
    assert session.exec(Partner.__table__.select()).first() is None  # nothing half-written


def test_registration_rejects_status_and_duplicate_contacts(client) -> None:
    response = client.post("/v1/partners/register", json={**REGISTRATION, "status": "active"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.status"
    twice = REGISTRATION["contacts"] * 2
    response = client.post("/v1/partners/register", json={**REGISTRATION, "contacts": twice})
    assert response.status_code == 409 and response.json()["type"] == "/problems/contact-email-taken"


def test_partner_updates_itself_but_cannot_set_status(client, session) -> None:
    key = register(client)["api_key"]["key"]
    headers = {"X-API-Key": key}
    response = client.patch("/v1/partners/me", headers=headers, json={"status": "active"})
    assert response.status_code == 422 and response.json()["type"] == "/problems/validation"
    response = client.patch("/v1/partners/me", headers=headers, json={"name": None})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.name"
    response = client.patch("/v1/partners/me", headers=headers, json={"country": "ZZ"})
    assert response.status_code == 422 and response.json()["type"] == "/problems/unknown-country"
    response = client.patch("/v1/partners/me", headers=headers, json={"country": "fr", "currency": "eur", "website": None})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["country"], body["currency"], body["website"], body["status"]) == ("FR", "EUR", None, "pending")
    assert body["name"] == REGISTRATION["name"]


def test_contacts_crud_and_cross_partner_404(client, session) -> None:
    mine = {"X-API-Key": register(client)["api_key"]["key"]}
    other = make_partner(session)
    other_headers = {"X-API-Key": make_api_key(session, other)}
    session.commit()

    created = client.post("/v1/partners/me/contacts", headers=mine, json={"name": "Desk", "email": "desk@outlet.example"})
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    listed = client.get("/v1/partners/me/contacts", headers=mine, params={"limit": 1})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1 and listed.json()["next_cursor"]
    second = client.get("/v1/partners/me/contacts", headers=mine, params={"cursor": listed.json()["next_cursor"]})
    assert [c["email"] for c in second.json()["items"]] == ["desk@outlet.example"]

    duplicate = client.post("/v1/partners/me/contacts", headers=mine, json={"name": "Again", "email": "DESK@outlet.example"})
    assert duplicate.status_code == 409 and duplicate.json()["type"] == "/problems/contact-email-taken"

    patched = client.patch(f"/v1/partners/me/contacts/{contact_id}", headers=mine, json={"notify": False, "role": "Night desk"})
    assert patched.status_code == 200 and patched.json()["notify"] is False and patched.json()["role"] == "Night desk"

    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"notify": True}} if method == "patch" else {}
        response = getattr(client, method)(f"/v1/partners/me/contacts/{contact_id}", headers=other_headers, **kwargs)
        assert response.status_code == 404 and response.json()["type"] == "/problems/contact-not-found"

    assert client.delete(f"/v1/partners/me/contacts/{contact_id}", headers=mine).status_code == 204
    assert client.get(f"/v1/partners/me/contacts/{contact_id}", headers=mine).status_code == 404


def test_api_keys_list_create_revoke(client, session) -> None:
    first = register(client)["api_key"]
    headers = {"X-API-Key": first["key"]}

    last = client.delete(f"/v1/partners/me/api-keys/{first['id']}", headers=headers)
    assert last.status_code == 409 and last.json()["type"] == "/problems/last-api-key"

    created = client.post("/v1/partners/me/api-keys", headers=headers, json={"name": "CMS plug-in"})
    assert created.status_code == 201, created.text
    second = created.json()
    assert second["key"].startswith("synd_") and second["key"] != first["key"]

    listed = client.get("/v1/partners/me/api-keys", headers=headers).json()["items"]
    assert {k["name"] for k in listed} == {"default", "CMS plug-in"}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert listed[0]["last_used_at"] is not None  # the first key has been used by these requests

    revoked = client.delete(f"/v1/partners/me/api-keys/{first['id']}", headers={"X-API-Key": second["key"]})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = client.get("/v1/partners/me", headers=headers)
    assert refused.status_code == 401 and refused.json()["type"] == "/problems/unauthenticated"
    again = client.delete(f"/v1/partners/me/api-keys/{first['id']}", headers={"X-API-Key": second["key"]})
    assert again.status_code == 200  # revoking twice changes nothing


def test_another_partners_key_id_is_not_found(client, session) -> None:
    mine = register(client)["api_key"]
    theirs = register(client, billing_email="other@elsewhere.example", contacts=[])["api_key"]
    response = client.delete(f"/v1/partners/me/api-keys/{theirs['id']}", headers={"X-API-Key": mine["key"]})
    assert response.status_code == 404 and response.json()["type"] == "/problems/api-key-not-found"
    assert session.get(ApiKey, theirs["id"]).revoked_at is None


def test_missing_or_unknown_key_is_401(client) -> None:
    assert client.get("/v1/partners/me").json()["type"] == "/problems/unauthenticated"
    response = client.get("/v1/partners/me", headers={"X-API-Key": "sk_live_nope"})
    assert response.status_code == 401


def test_staff_create_list_verify_suspend(client, session) -> None:
    licensing = staff_headers(client, session, roles=["licensing"])
    editor = staff_headers(client, session, roles=["editor"])
    pending = register(client)["partner"]

    refused = client.post("/v1/staff/partners", headers=editor, json={**REGISTRATION, "billing_email": "x@y.example"})
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/role-required"
    created = client.post("/v1/staff/partners", headers=licensing,
                          json={**REGISTRATION, "name": "Staff Made", "contacts": []})
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["partner"]["status"] == "active" and made["api_key"]["key"].startswith("synd_")

    assert client.get("/v1/staff/partners", headers=editor).status_code == 403  # articles are an editor's work
    finance = staff_headers(client, session, roles=["finance"])  # reads partners for their billing details
    queue = client.get("/v1/staff/partners", headers=finance, params={"status": "pending"})
    assert queue.status_code == 200 and [p["id"] for p in queue.json()["items"]] == [pending["id"]]
    everyone = client.get("/v1/staff/partners", headers=finance).json()["items"]
    assert [p["id"] for p in everyone] == [made["partner"]["id"], pending["id"]]  # newest first
    bad = client.get("/v1/staff/partners", headers=finance, params={"status": "gone"})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"

    assert client.post(f"/v1/staff/partners/{pending['id']}/verify", headers=editor).status_code == 403
    verified = client.post(f"/v1/staff/partners/{pending['id']}/verify", headers=licensing, json={"reason": "Checked"})
    assert verified.status_code == 200 and verified.json()["status"] == "active" and verified.json()["verified_at"]

    key = made["api_key"]["key"]
    assert client.get("/v1/partners/me", headers={"X-API-Key": key}).status_code == 200
    suspended = client.post(f"/v1/staff/partners/{made['partner']['id']}/suspend", headers=licensing)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert client.get("/v1/partners/me", headers={"X-API-Key": key}).status_code == 401

    assert client.get(f"/v1/staff/partners/{pending['id']}", headers=editor).status_code == 403
    detail = client.get(f"/v1/staff/partners/{pending['id']}", headers=finance)
    assert detail.status_code == 200 and detail.json()["contacts"][0]["name"] == "Amira Haddad"
    missing = client.get("/v1/staff/partners/ptn_missing", headers=finance)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/partner-not-found"


def test_staff_manage_a_partners_keys(client, session) -> None:
    licensing = staff_headers(client, session, roles=["licensing"])
    finance = staff_headers(client, session, roles=["finance"])
    registered = register(client)
    partner_id, leaked = registered["partner"]["id"], registered["api_key"]

    refused = client.get(f"/v1/staff/partners/{partner_id}/api-keys", headers=finance)  # not finance's work
    assert refused.status_code == 403 and refused.json()["permission"] == "partners"
    listed = client.get(f"/v1/staff/partners/{partner_id}/api-keys", headers=licensing)
    assert listed.status_code == 200 and [k["prefix"] for k in listed.json()["items"]] == [leaked["prefix"]]
    assert client.post(f"/v1/staff/partners/{partner_id}/api-keys", headers=finance, json={"name": "x"}).status_code == 403

    replacement = client.post(f"/v1/staff/partners/{partner_id}/api-keys", headers=licensing, json={"name": "replacement"})
    assert replacement.status_code == 201
    # Staff may revoke even the last active key (a leak); revoke both.
    for key_id in (leaked["id"], replacement.json()["id"]):
        revoked = client.delete(f"/v1/staff/partners/{partner_id}/api-keys/{key_id}", headers=licensing)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/v1/partners/me", headers={"X-API-Key": leaked["key"]}).status_code == 401

    other = register(client, billing_email="b@other.example", contacts=[])["partner"]["id"]
    wrong = client.delete(f"/v1/staff/partners/{other}/api-keys/{leaked['id']}", headers=licensing)
    assert wrong.status_code == 404 and wrong.json()["type"] == "/problems/api-key-not-found"
    missing = client.get("/v1/staff/partners/ptn_nope/api-keys", headers=licensing)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/partner-not-found"


def test_public_registration_is_rate_limited_per_address(client, app) -> None:
    from api.partners.deps import RegistrationLimiter

    limiter = app.state.registration_limiter
    app.state.registration_limiter = RegistrationLimiter(app.state.settings.model_copy(update={"registration_rate_limit": "2/hour"}))
    try:
        for n in range(2):
            register(client, billing_email=f"r{n}@rate.example", contacts=[])
        refused = client.post("/v1/partners/register", json={**REGISTRATION, "billing_email": "r3@rate.example"})
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/registration-rate-limited"
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        app.state.registration_limiter = limiter


def test_changing_a_contact_to_another_contacts_email_is_a_conflict(client, session) -> None:
    key = {"X-API-Key": register(client)["api_key"]["key"]}
    other = client.post("/v1/partners/me/contacts", json={"name": "Bo", "email": "bo@outlet.example"}, headers=key)
    response = client.patch(f"/v1/partners/me/contacts/{other.json()['id']}", json={"email": "AMIRA@outlet.example"},
                            headers=key)
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "/problems/contact-email-taken" and response.json()["field"] == "email"
    emails = sorted(c["email"] for c in client.get("/v1/partners/me/contacts", headers=key).json()["items"])
    assert emails == ["amira@outlet.example", "bo@outlet.example"]
