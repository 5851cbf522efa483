"""Staff decisions over HTTP, the partner's answer to a counter-offer, and racing approvals."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from api.audit.service import Actor
from api.licensing import decisions
from api.licensing.errors import RequestAlreadyDecided
from api.licensing.models import Licence
from api.outbox.models import OutboxMessage
from tests.builders import make_article, make_partner, staff_headers
from tests.licensing.helpers import partner_with_key, request_body


def _submit(client, session, headers: dict[str, str] | None = None, **overrides) -> tuple[str, dict[str, str]]:
    if headers is None:
        _partner, headers = partner_with_key(session)
    article = make_article(session)
    session.commit()
    response = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id], **overrides))
    assert response.status_code == 201, response.text
    return response.json()["id"], headers


def _licences(session) -> list[Licence]:
    rows = list(session.exec(select(Licence)).all())
    session.commit()
    return rows


def test_approve_at_another_price_with_conditions_awaits_payment(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    request_id, partner = _submit(client, session)
    response = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=staff,
                           json={"amount": 12345, "conditions": ["Credit MEE in the headline."], "monthly_quota": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request"]["status"] == "approved" and body["request"]["amount_offered"] == 12345
    assert body["licence_status"] == "awaiting_payment"
    licence = client.get(f"/v1/licences/{body['licence_id']}", headers=partner).json()
    assert licence["amount"] == 12345 and licence["billing_mode"] == "one_off"
    assert licence["conditions"] == ["Credit MEE in the headline."] and licence["monthly_quota"] == 10
    charges = session.exec(select(OutboxMessage).where(OutboxMessage.topic == "invoicing.charge_licence")).all()
    assert [m.payload for m in charges] == [{"licence_id": body["licence_id"]}]
    session.commit()


def test_approving_twice_gives_one_licence_and_a_conflict(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    request_id, _partner = _submit(client, session)
    first = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=staff)
    second = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=staff)
    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/request-already-decided"
    assert "already approved" in second.json()["detail"]
    assert len(_licences(session)) == 1


def _submitted_requests(session, count: int = 1) -> list:
    """`count` submitted requests of one partner for one article, committed so other sessions see them."""
    from api.licensing import ratecard, requests
    from api.licensing.quotes import TermsInput

    ratecard.ensure_default_rate_card(session)
    partner = make_partner(session)
    article = make_article(session)
    submitted = [requests.submit(session, partner=partner, terms=TermsInput(
        scope="article", use="web", territories=["GB"], audience_size=1000, article_ids=[article.id], period_months=1))
        for _ in range(count)]
    session.commit()
    return submitted


@pytest.mark.postgres_only
def test_two_staff_racing_to_approve_make_one_licence(engine, session) -> None:
    rounds = 5
    request_ids = [request.id for request in _submitted_requests(session, rounds)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(barrier: threading.Barrier, request_id: str, who: str) -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                decisions.approve(own, request_id, actor=Actor("staff", who))
                own.commit()
                result = "approved"
            except RequestAlreadyDecided:
                own.rollback()
                result = "conflict"
        with lock:
            outcomes.append(result)

    for request_id in request_ids:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=approve, args=(barrier, request_id, f"stf_{n}")) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["approved"] * rounds + ["conflict"] * rounds
    licences = _licences(session)
    assert sorted(lic.request_id for lic in licences) == sorted(request_ids)


@pytest.mark.postgres_only
def test_second_approver_waits_for_the_first_and_sees_its_decision(engine, session) -> None:
    request, = _submitted_requests(session)
    outcome: dict[str, object] = {}

    def second() -> None:
        with Session(engine, expire_on_commit=False) as own:
            try:
                decisions.approve(own, request.id, actor=Actor("staff", "stf_second"))
                own.commit()
                outcome["result"] = "approved"
            except RequestAlreadyDecided as exc:
                outcome["result"] = exc

    with Session(engine, expire_on_commit=False) as first:
        decisions.approve(first, request.id, actor=Actor("staff", "stf_first"))  # holds the row lock
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the second approval should be waiting on the row lock"
        first.commit()
    thread.join()
    assert isinstance(outcome["result"], RequestAlreadyDecided)
    assert "stf_first" in outcome["result"].detail  # type: ignore[union-attr]
    assert len(_licences(session)) == 1


def test_counter_then_decline(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    request_id, partner = _submit(client, session)
    empty = client.post(f"/v1/staff/licence-requests/{request_id}/counter", headers=staff, json={"message": "hmm"})
    assert empty.status_code == 422 and empty.json()["type"] == "/problems/invalid-decision"
    early_accept = client.post(f"/v1/licence-requests/{request_id}/accept", headers=partner)
    assert early_accept.status_code == 409 and early_accept.json()["type"] == "/problems/no-counter-offer"
    countered = client.post(f"/v1/staff/licence-requests/{request_id}/counter", headers=staff, json={"amount": 50000})
    assert countered.status_code == 200
    twice = client.post(f"/v1/staff/licence-requests/{request_id}/counter", headers=staff, json={"amount": 40000})
    assert twice.status_code == 409 and twice.json()["type"] == "/problems/invalid-transition"
    reject = client.post(f"/v1/staff/licence-requests/{request_id}/reject", headers=staff, json={"reason": "No."})
    assert reject.status_code == 409 and reject.json()["type"] == "/problems/invalid-transition"
    declined = client.post(f"/v1/licence-requests/{request_id}/decline", headers=partner, json={"reason": "Too dear."})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    after = client.post(f"/v1/licence-requests/{request_id}/accept", headers=partner)
    assert after.status_code == 409 and after.json()["type"] == "/problems/request-already-decided"
    assert _licences(session) == []


def test_staff_may_approve_a_countered_request_at_the_offer(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    request_id, _partner = _submit(client, session)
    client.post(f"/v1/staff/licence-requests/{request_id}/counter", headers=staff, json={"amount": 999})
    approved = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=staff)
    assert approved.status_code == 200
    assert [lic.amount for lic in _licences(session)] == [999]


def test_decisions_need_the_licensing_role_and_a_real_request(client, session) -> None:
    editor = staff_headers(client, session, roles=["editor"])
    admin = staff_headers(client, session, roles=["admin"])
    request_id, _partner = _submit(client, session)
    refused = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=editor)
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/role-required"
    assert client.get("/v1/staff/licence-requests", headers=editor).status_code == 403
    missing = client.post("/v1/staff/licence-requests/lrq_missing/approve", headers=admin)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/licence-request-not-found"
    assert client.get(f"/v1/staff/licence-requests/{request_id}", headers=admin).json()["status"] == "in_review"


def test_queue_filters_and_sorts_by_age_and_value(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    cheap, partner = _submit(client, session, audience_size=1000)
    dear, _ = _submit(client, session, headers=partner, audience_size=5_000_000)
    middle, _ = _submit(client, session, headers=partner, audience_size=50_000)
    other, _ = _submit(client, session)
    client.post(f"/v1/staff/licence-requests/{other}/reject", headers=staff, json={"reason": "No."})

    by_age = client.get("/v1/staff/licence-requests", headers=staff, params={"status": "in_review"}).json()
    assert [r["id"] for r in by_age["items"]] == [cheap, dear, middle]

    pages, cursor = [], None
    while True:
        params = {"status": "in_review", "sort": "value", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/staff/licence-requests", headers=staff, params=params).json()
        pages += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [dear, middle, cheap]

    mine = client.get("/v1/staff/licence-requests", headers=staff, params={"partner_id": by_age["items"][0]["partner_id"]}).json()
    assert {r["id"] for r in mine["items"]} == {cheap, dear, middle}
    rejected = client.get("/v1/staff/licence-requests", headers=staff, params={"status": "rejected"}).json()
    assert [r["id"] for r in rejected["items"]] == [other] and rejected["items"][0]["decided_by"]
    bad = client.get("/v1/staff/licence-requests", headers=staff, params={"sort": "colour"})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"


def test_approval_and_acceptance_retries_with_a_key_replay(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    request_id, partner = _submit(client, session)
    keyed = {**staff, "Idempotency-Key": "approve-once"}
    first = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=keyed, json={"amount": 100})
    retry = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=keyed, json={"amount": 100})
    assert first.status_code == retry.status_code == 200 and first.json() == retry.json()
    changed = client.post(f"/v1/staff/licence-requests/{request_id}/approve", headers=keyed, json={"amount": 200})
    assert changed.status_code == 422 and changed.json()["type"] == "/problems/idempotency-key-reused"

    other_id, _ = _submit(client, session, headers=partner)
    client.post(f"/v1/staff/licence-requests/{other_id}/counter", headers=staff, json={"amount": 0})
    accept = {**partner, "Idempotency-Key": "accept-once"}
    once = client.post(f"/v1/licence-requests/{other_id}/accept", headers=accept)
    twice = client.post(f"/v1/licence-requests/{other_id}/accept", headers=accept)
    assert once.status_code == twice.status_code == 200 and once.json() == twice.json()
    assert len(_licences(session)) == 2


def test_a_section_feed_billed_per_article(client, session) -> None:
    staff = staff_headers(client, session, roles=["licensing"])
    make_article(session, section="opinion")
    _partner, headers = partner_with_key(session, currency="EUR")
    session.commit()
    body = request_body(scope="section_feed", section="opinion", billing_mode="usage", period_months=12)
    quote = client.post("/v1/quotes", headers=headers, json=body).json()
    assert (quote["amount"], quote["interval"], quote["estimated_total"]) == (4600, "article", None)
    feed = client.post("/v1/licence-requests", headers=headers, json={**body, "billing_mode": None}).json()
    assert feed["billing_mode"] == "subscription" and feed["amount_quoted"] == 70000
    usage = client.post("/v1/licence-requests", headers=headers, json=body).json()
    approved = client.post(f"/v1/staff/licence-requests/{usage['id']}/approve", headers=staff).json()
    licence = client.get(f"/v1/licences/{approved['licence_id']}", headers=headers).json()
    assert (licence["billing_mode"], licence["amount"], licence["currency"]) == ("usage", 4600, "EUR")
    assert licence["scope"] == "section_feed" and licence["section"] == "opinion" and licence["article_ids"] == []
