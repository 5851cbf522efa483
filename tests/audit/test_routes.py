from __future__ import annotations

from tests.builders import make_api_key, make_partner, staff_headers

REGISTRATION = {"name": "Audit Outlet", "country": "AE", "billing_email": "accounts@audit.example", "currency": "AED"}


def actions(page: dict) -> list[str]:
    return [entry["action"] for entry in page["items"]]


def test_partner_lifecycle_is_audited_and_readable_by_staff(client, session) -> None:
    licensing = staff_headers(client, session, roles=["licensing"])
    finance = staff_headers(client, session, roles=["finance"])
    registered = client.post("/v1/partners/register", json=REGISTRATION, headers={"X-Request-ID": "reg-123"}).json()
    partner_id, first_key = registered["partner"]["id"], registered["api_key"]
    headers = {"X-API-Key": first_key["key"]}
    assert client.post(f"/v1/staff/partners/{partner_id}/verify", headers=licensing, json={"reason": "Known outlet"}).status_code == 200
    second = client.post("/v1/partners/me/api-keys", headers=headers, json={"name": "spare"}).json()
    assert client.delete(f"/v1/partners/me/api-keys/{first_key['id']}", headers=headers).status_code == 200

    refused = client.get("/v1/staff/audit", headers=finance, params={"partner_id": partner_id})
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/role-required"
    response = client.get("/v1/staff/audit", headers=licensing, params={"partner_id": partner_id})
    assert response.status_code == 200, response.text
    page = response.json()
    # Newest first.
    assert actions(page) == ["api_key.revoked", "api_key.created", "partner.active", "api_key.created", "partner.created"]
    created = page["items"][-1]
    assert created["actor_type"] == "partner" and created["actor_id"] == partner_id
    assert created["request_id"] == "reg-123" and created["after"]["status"] == "pending"
    verified = page["items"][2]
    assert verified["actor_type"] == "staff" and verified["actor_id"].startswith("stf")
    assert verified["before"] == {"status": "pending"} and verified["after"] == {"status": "active", "reason": "Known outlet"}

    keys_only = client.get("/v1/staff/audit", headers=licensing, params={"object_type": "api_key", "object_id": first_key["id"]})
    assert actions(keys_only.json()) == ["api_key.revoked", "api_key.created"]

    first_page = client.get("/v1/staff/audit", headers=licensing, params={"partner_id": partner_id, "limit": 2}).json()
    rest = client.get("/v1/staff/audit", headers=licensing,
                      params={"partner_id": partner_id, "cursor": first_page["next_cursor"]}).json()
    assert actions(first_page) + actions(rest) == actions(page)
    assert second["id"] in {e["object_id"] for e in page["items"]}


def test_partner_sees_only_its_own_entries_without_staff_names(client, session) -> None:
    licensing = staff_headers(client, session, roles=["licensing"])
    mine = client.post("/v1/partners/register", json=REGISTRATION).json()
    other = make_partner(session)
    other_key = make_api_key(session, other)
    session.commit()
    client.post(f"/v1/staff/partners/{mine['partner']['id']}/verify", headers=licensing)

    page = client.get("/v1/audit", headers={"X-API-Key": mine["api_key"]["key"]}).json()
    assert {e["partner_id"] for e in page["items"]} == {mine["partner"]["id"]}
    verified = [e for e in page["items"] if e["action"] == "partner.active"][0]
    assert verified["actor_type"] == "staff" and verified["actor_id"] is None

    theirs = client.get("/v1/audit", headers={"X-API-Key": other_key}).json()
    assert theirs["items"] and {e["partner_id"] for e in theirs["items"]} == {other.id}
    # Asking for the other partner's object by id finds nothing rather than leaking it.
    probe = client.get("/v1/audit", headers={"X-API-Key": other_key}, params={"object_id": mine["partner"]["id"]})
    assert probe.json()["items"] == []


def test_audit_needs_authentication_and_a_valid_cursor(client, session) -> None:
    assert client.get("/v1/staff/audit").status_code == 401
    assert client.get("/v1/audit").status_code == 401
    licensing = staff_headers(client, session, roles=["licensing"])
    bad = client.get("/v1/staff/audit", headers=licensing, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/bad-cursor"
