"""The two "done when" walks, over HTTP against the real app and database."""

from __future__ import annotations

from sqlmodel import select

from api.audit.models import AuditEntry
from api.outbox.models import OutboxMessage
from tests.builders import make_article, staff_headers
from tests.licensing.helpers import request_body


def _register(client, name: str) -> tuple[str, dict[str, str]]:
    response = client.post("/v1/partners/register", json={
        "name": name, "country": "GB", "billing_email": "billing@outlet.example", "currency": "GBP",
        "website": "https://outlet.example", "contacts": [{"name": "Desk", "email": "desk@outlet.example"}]})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["partner"]["id"], {"X-API-Key": body["api_key"]["key"]}


def test_registration_quote_request_counter_acceptance_free_licence(client, session) -> None:
    article = make_article(session, headline="Putin makes surprise visit to Syria")
    staff = staff_headers(client, session, roles=["licensing"])
    partner_id, partner = _register(client, "University Newsroom")
    assert client.post(f"/v1/staff/partners/{partner_id}/verify", headers=staff).status_code == 200

    form = client.get("/v1/licence-requests/form")
    assert form.status_code == 200
    assert "academic" in [o["value"] for o in next(f for f in form.json()["fields"] if f["name"] == "use")["options"]]

    terms = request_body(article_ids=[article.id], use="academic", audience_size=2000)
    quote = client.post("/v1/quotes", headers=partner, json=terms)
    assert quote.status_code == 200, quote.text
    quoted = quote.json()
    # 150.00 GBP, academic x0.50, small audience x1, domestic x1, one month x1.
    assert quoted["currency"] == "GBP" and quoted["amount"] == 7500
    assert [line["code"] for line in quoted["lines"]] == ["base", "use", "audience", "territory", "duration"]

    created = client.post("/v1/licence-requests", headers=partner,
                          json={**terms, "notes": "For a teaching pack; can it be free?"})
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "in_review" and request["amount_quoted"] == quoted["amount"]

    queue = client.get("/v1/staff/licence-requests", headers=staff, params={"status": "in_review"})
    assert [r["id"] for r in queue.json()["items"]] == [request["id"]]
    countered = client.post(f"/v1/staff/licence-requests/{request['id']}/counter", headers=staff,
                            json={"amount": 0, "conditions": ["Classroom use only."], "message": "Free for teaching."})
    assert countered.status_code == 200, countered.text
    assert countered.json()["status"] == "countered" and countered.json()["amount_offered"] == 0

    seen = client.get(f"/v1/licence-requests/{request['id']}", headers=partner).json()
    assert seen["status"] == "countered" and seen["conditions"] == ["Classroom use only."]
    accepted = client.post(f"/v1/licence-requests/{request['id']}/accept", headers=partner)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "approved"
    licence_id = accepted.json()["licence_id"]

    licence = client.get(f"/v1/licences/{licence_id}", headers=partner)
    assert licence.status_code == 200
    assert licence.json()["status"] == "active" and licence.json()["billing_mode"] == "free"
    assert licence.json()["amount"] == 0 and licence.json()["conditions"] == ["Classroom use only."]
    assert licence.json()["article_ids"] == [article.id] and licence.json()["use"] == "academic"

    actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.object_id == request["id"])
                                              .order_by(AuditEntry.at, AuditEntry.id)).all()]
    assert actions == ["licence_request.submitted", "licence_request.in_review", "licence_request.countered",
                       "licence_request.approved"]
    subjects = {m.payload["subject"] for m in session.exec(select(OutboxMessage).where(OutboxMessage.topic == "email.send")).all()}
    assert {"New licence request from University Newsroom", "A counter-offer on your licence request",
            "Counter-offer accepted", "Your licence request was approved"} <= subjects
    # Nothing to bill: a free licence queues no charge.
    assert session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.charge_licence")).first() is None
    session.commit()

    # The partner reads the trail of its own request and licence; which staff member acted is not shown.
    trail = client.get("/v1/audit", headers=partner, params={"object_id": request["id"]})
    assert trail.status_code == 200, trail.text
    assert [(e["action"], e["actor_type"], e["actor_id"]) for e in trail.json()["items"]] == [
        ("licence_request.approved", "partner", partner_id),
        ("licence_request.countered", "staff", None),
        ("licence_request.in_review", "system", "intake"),
        ("licence_request.submitted", "partner", partner_id),
    ]
    countered_entry = trail.json()["items"][1]
    assert countered_entry["before"] == {"state": "in_review"} and countered_entry["after"]["amount"] == 0
    staff_view = client.get("/v1/staff/audit", headers=staff, params={"object_id": request["id"]}).json()["items"]
    assert staff_view[1]["actor_id"] is not None  # the desk does see who countered
    granted = client.get("/v1/audit", headers=partner, params={"object_type": "licence"})
    assert [(e["action"], e["object_id"], e["after"]["state"]) for e in granted.json()["items"]] == [
        ("licence.granted", licence_id, "active")]

    # Another partner asking for the same ids sees nothing.
    _other_id, other = _register(client, "Another Outlet")
    for params in ({"object_id": request["id"]}, {"object_id": licence_id}, {"object_type": "licence"},
                   {"object_type": "licence_request", "object_id": request["id"]}):
        theirs = client.get("/v1/audit", headers=other, params=params)
        assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}, params


def test_registration_quote_request_rejection(client, session) -> None:
    article = make_article(session)
    staff = staff_headers(client, session, roles=["licensing"])
    _partner_id, partner = _register(client, "Tabloid Daily")
    terms = request_body(article_ids=[article.id], use="print", territories=["US"], audience_size=2_000_000)
    quote = client.post("/v1/quotes", headers=partner, json=terms)
    assert quote.status_code == 200
    created = client.post("/v1/licence-requests", headers=partner, json=terms)
    assert created.status_code == 201
    request_id = created.json()["id"]

    no_reason = client.post(f"/v1/staff/licence-requests/{request_id}/reject", headers=staff, json={"reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["type"] == "/problems/validation"
    rejected = client.post(f"/v1/staff/licence-requests/{request_id}/reject", headers=staff,
                           json={"reason": "We do not syndicate to print outside the UK."})
    assert rejected.status_code == 200, rejected.text
    seen = client.get(f"/v1/licence-requests/{request_id}", headers=partner).json()
    assert seen["status"] == "rejected"
    assert seen["decision_reason"] == "We do not syndicate to print outside the UK."
    assert seen["licence_id"] is None
    assert client.get("/v1/licences", headers=partner).json()["items"] == []

    again = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=staff)
    assert again.status_code == 409 and again.json()["type"] == "/problems/request-already-decided"
    accept = client.post(f"/v1/licence-requests/{request_id}/accept", headers=partner)
    assert accept.status_code == 409 and accept.json()["type"] == "/problems/request-already-decided"
