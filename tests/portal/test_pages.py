"""Portal pages after sign-in: counter-offers, licences and tokens (shown once), invoices with
their lines and how to pay, API keys; another partner's things are not found."""

from __future__ import annotations

import re

import api.jobs  # noqa: F401  - registers the outbox handlers (the ledger issues invoices)
from api.licensing import decisions
from api.outbox.dispatch import drain
from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner
from tests.portal.test_republish import web  # noqa: F401 - the https client fixture


def _sign_in(web, session, partner) -> str:
    key = make_api_key(session, partner)
    session.commit()
    web.post("/portal/sign-in", data={"api_key": key})
    return re.search(r'name="csrf_token" value="([^"]+)"', web.get("/portal").text)[1]


def test_a_counter_offer_is_accepted_in_the_portal(web, session) -> None:
    from api.licensing import requests
    from tests.licensing.helpers import request_body
    from api.licensing.schemas import LicenceRequestCreate

    partner = make_partner(session)
    article = make_article(session)
    body = LicenceRequestCreate.model_validate(request_body(article_ids=[article.id]))
    request = requests.submit(session, partner=partner, terms=body.terms())
    decisions.counter(session, request.id, actor=TEST_ACTOR, amount=12345, conditions=["Link to us."],
                      message="A lower price for a link.")
    csrf = _sign_in(web, session, partner)
    page = web.get("/portal")
    assert "Counter-offer waiting for you" in page.text and "123.45 GBP" in page.text and "Link to us." in page.text
    assert web.post(f"/portal/requests/{request.id}/accept", data={"csrf_token": "forged"}).status_code == 403
    done = web.post(f"/portal/requests/{request.id}/accept", data={"csrf_token": csrf})
    assert done.status_code == 200 and "You accepted the counter-offer" in done.text
    assert "Waiting for payment" in web.get("/portal/licences").text or "Approved" in done.text
    again = web.post(f"/portal/requests/{request.id}/accept", data={"csrf_token": csrf})
    assert again.status_code == 409


def test_a_token_is_minted_shown_once_and_revoked(web, session) -> None:
    partner, other = make_partner(session), make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article])
    foreign = make_licence(session, partner=other, articles=[article])
    csrf = _sign_in(web, session, partner)
    page = web.get("/portal/licences")
    assert "Active" in page.text and "No monthly limit" in page.text
    minted = web.post(f"/portal/licences/{licence.id}/tokens", data={"csrf_token": csrf})
    token = re.search(r'<textarea id="new-token" readonly>([^<]+)</textarea>', minted.text)[1]
    assert token.count(".") == 2 and f"Authorization: Bearer {token}" in minted.text
    assert token not in web.get("/portal/licences").text  # shown once
    jti = re.search(rf"/portal/licences/{licence.id}/tokens/([^/]+)/revoke", minted.text)[1]
    assert web.post(f"/portal/licences/{licence.id}/tokens/{jti}/revoke", data={"csrf_token": csrf}).status_code == 200
    assert "Revoked" in web.get("/portal/licences").text
    refused = web.post(f"/portal/licences/{foreign.id}/tokens", data={"csrf_token": csrf})
    assert "No licence" in refused.text and "new-token" not in refused.text


def test_invoices_show_their_lines_and_how_to_pay(web, session, engine) -> None:
    partner = make_partner(session)
    article = make_article(session)
    make_licence(session, partner=partner, articles=[article], amount=25000)
    session.commit()
    drain(engine)  # the ledger issues the invoice
    _sign_in(web, session, partner)
    page = web.get("/portal/invoices")
    assert page.status_code == 200 and "250.00 GBP" in page.text and "To pay" in page.text, page.text
    assert "payment details" in page.text or "How to pay" in page.text


def test_api_keys_are_created_once_and_revoked(web, session) -> None:
    partner = make_partner(session)
    csrf = _sign_in(web, session, partner)
    created = web.post("/portal/keys", data={"csrf_token": csrf, "name": "CMS plug-in"})
    raw = re.search(r'id="new-key" readonly value="([^"]+)"', created.text)[1]
    assert "CMS plug-in" in created.text and raw not in web.get("/portal/keys").text
    key_id = re.findall(r"/portal/keys/([^/]+)/revoke", created.text)[-1]
    assert web.post(f"/portal/keys/{key_id}/revoke", data={"csrf_token": csrf}).status_code == 200


def test_usage_by_month_as_a_chart_and_a_table(web, session) -> None:
    from datetime import timedelta

    from api.core.db import utcnow
    from tests.reports.data import add_usage

    partner, other = make_partner(session), make_partner(session)
    article = make_article(session, headline="A much republished story")
    licence = make_licence(session, partner=partner, articles=[article])
    foreign = make_licence(session, partner=other, articles=[article])
    now = utcnow()
    add_usage(session, licence, article, at=now - timedelta(days=40), billable=True)
    add_usage(session, licence, article, at=now)
    add_usage(session, foreign, article, at=now)
    _sign_in(web, session, partner)
    page = web.get("/portal/usage")
    assert page.status_code == 200 and "A much republished story" in page.text
    named = f"Website, {licence.starts_at:%d %b %Y} to {licence.ends_at:%d %b %Y}"  # the licence by its terms
    assert page.text.count(f"<td>{named}</td>") == 2 and licence.id not in page.text and foreign.id not in page.text
    assert f"<td>{now:%b %Y}</td>" in page.text and f"<td>{now:%Y-%m}</td>" not in page.text  # months in words
    chart = web.get("/portal/usage/chart.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml") and b"<svg" in chart.content
    assert b"Deliveries" in chart.content and b"Republications" in chart.content
    assert f"{now:%b %Y}".encode() in chart.content and f">{now:%Y-%m}<".encode() not in chart.content
    assert not re.search(rb">\d+\.\d+</text>", chart.content)  # whole deliveries on the axis, never 0.2
    # pygal embeds its (unused) config script: the image's own policy runs no script at all.
    assert chart.headers["content-security-policy"].startswith("default-src 'none'")


def test_webhook_endpoints_are_added_with_a_secret_shown_once_and_removed(web, session) -> None:
    partner = make_partner(session)
    csrf = _sign_in(web, session, partner)
    refused = web.post("/portal/webhooks", data={"csrf_token": csrf, "url": "ftp://nowhere"})
    assert refused.status_code == 422 and "whsec_" not in refused.text
    added = web.post("/portal/webhooks", data={"csrf_token": csrf, "url": "https://hooks.outlet.example/syndicate"})
    secret = re.search(r'id="new-secret" readonly value="(whsec_[^"]+)"', added.text)[1]
    page = web.get("/portal/webhooks")
    assert "https://hooks.outlet.example/syndicate" in page.text and secret not in page.text
    endpoint_id = re.search(r"/portal/webhooks/([^/]+)/remove", page.text)[1]
    assert web.post(f"/portal/webhooks/{endpoint_id}/remove", data={"csrf_token": csrf}).status_code == 200
    assert "hooks.outlet.example" not in web.get("/portal/webhooks").text


def test_an_unpaid_licence_is_cancelled_in_the_portal(web, session) -> None:
    partner, other = make_partner(session), make_partner(session)
    article = make_article(session)
    unpaid = make_licence(session, partner=partner, articles=[article], amount=25000)
    paid = make_licence(session, partner=partner, articles=[article])
    foreign = make_licence(session, partner=other, articles=[article], amount=25000)
    csrf = _sign_in(web, session, partner)
    page = web.get("/portal/licences")
    assert f"/portal/licences/{unpaid.id}/cancel" in page.text and f"/portal/licences/{paid.id}/cancel" not in page.text
    assert "nothing is owed" in page.text
    assert web.post(f"/portal/licences/{unpaid.id}/cancel", data={"csrf_token": "forged"}).status_code == 403
    done = web.post(f"/portal/licences/{unpaid.id}/cancel", data={"csrf_token": csrf, "reason": "Ran without it."})
    assert done.status_code == 200 and "The licence is cancelled" in done.text and "Cancelled" in done.text
    assert f"/portal/licences/{unpaid.id}/cancel" not in done.text
    session.expire_all()
    assert str(session.get(type(unpaid), unpaid.id).state) == "cancelled"
    assert web.post(f"/portal/licences/{paid.id}/cancel", data={"csrf_token": csrf}).status_code == 409
    assert web.post(f"/portal/licences/{foreign.id}/cancel", data={"csrf_token": csrf}).status_code == 404
    assert str(session.get(type(foreign), foreign.id).state) == "awaiting_payment"


def test_each_licence_shows_quota_used_and_left_as_the_content_path_counts_it(web, session) -> None:
    from datetime import timedelta

    from api.core.db import utcnow
    from api.core.months import month_bounds
    from api.licensing import amendments
    from tests.reports.data import add_usage

    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], monthly_quota=10)
    now = utcnow()
    add_usage(session, licence, article, at=now)
    add_usage(session, licence, article, at=now)
    add_usage(session, licence, article, at=month_bounds(now)[0] - timedelta(seconds=1))  # last month: not counted
    amendments.grant_quota(session, licence.id, extra=5, expires_at=now + timedelta(days=3), reason="A big week.",
                           actor=TEST_ACTOR)
    _sign_in(web, session, partner)
    page = web.get("/portal/licences").text
    resets = month_bounds(now)[1].strftime("%d %b %Y %H:%M UTC")
    assert "2 used, 13 left</strong> of 15" in page and "plus extra granted" in page and resets in page, page


def test_webhook_endpoints_are_tested_rotated_re_enabled_and_re_sent_from_the_portal(web, session, engine) -> None:
    from sqlalchemy import update
    from sqlmodel import select

    from api.core.db import utcnow
    from api.delivery.models import WebhookDelivery, WebhookEndpoint
    from api.outbox.models import OutboxMessage

    partner = make_partner(session)
    csrf = _sign_in(web, session, partner)
    added = web.post("/portal/webhooks", data={"csrf_token": csrf, "url": "https://hooks.outlet.example/syndicate"})
    first_secret = re.search(r'id="new-secret" readonly value="(whsec_[^"]+)"', added.text)[1]
    endpoint_id = re.search(r"/portal/webhooks/([^/]+)/remove", added.text)[1]

    tested = web.post(f"/portal/webhooks/{endpoint_id}/test", data={"csrf_token": csrf})
    assert tested.status_code == 200 and "A test event is on its way" in tested.text
    assert "Test event" in tested.text and "Waiting to be sent" in tested.text and "webhook.test" not in tested.text
    session.expire_all()
    [queued] = session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)).all()
    assert queued.event_type == "webhook.test"
    assert session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"webhook:{queued.id}:0")).first()

    rotated = web.post(f"/portal/webhooks/{endpoint_id}/rotate", data={"csrf_token": csrf})
    new_secret = re.search(r'id="new-secret" readonly value="(whsec_[^"]+)"', rotated.text)[1]
    assert new_secret != first_secret and "two signatures" in rotated.text
    assert new_secret not in web.get("/portal/webhooks").text  # shown once

    with engine.begin() as connection:  # the delivery was given up, then the address answered 410
        connection.execute(update(WebhookDelivery).values(status="failed"))
        connection.execute(update(WebhookEndpoint).values(disabled_at=utcnow(), disabled_reason="Answered 410 Gone."))
    page = web.get("/portal/webhooks").text
    assert "Disabled since" in page and f"/deliveries/{queued.id}/resend" not in page
    refused = web.post(f"/portal/webhooks/{endpoint_id}/test", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "is disabled" in refused.text
    enabled = web.post(f"/portal/webhooks/{endpoint_id}/enable", data={"csrf_token": csrf})
    assert "enabled again" in enabled.text and "Failed (given up)" in enabled.text
    resent = web.post(f"/portal/webhooks/{endpoint_id}/deliveries/{queued.id}/resend", data={"csrf_token": csrf})
    assert resent.status_code == 200 and "being sent again" in resent.text
    session.expire_all()
    assert session.get(WebhookDelivery, queued.id).status == "pending"
    assert web.post(f"/portal/webhooks/{endpoint_id}/test", data={"csrf_token": "forged"}).status_code == 403


def test_requests_and_licences_name_uses_territories_and_languages_not_their_codes(web, session) -> None:
    partner = make_partner(session)
    make_licence(session, partner=partner, articles=[make_article(session)], territories=["GB", "FR"])
    _sign_in(web, session, partner)
    licences = web.get("/portal/licences").text
    assert "One article · Website" in licences and "in United Kingdom, France, in English" in licences
    assert "language en" not in licences and "· Web <" not in licences
    requests_page = web.get("/portal").text
    assert "One article · Website · United Kingdom, France" in requests_page and "GB, FR" not in requests_page


def test_an_invoice_line_links_to_the_deliveries_it_bills(web, session) -> None:
    from datetime import timedelta

    from api.core.db import utcnow
    from api.invoicing import cutoffs
    from tests.reports.data import add_usage

    partner = make_partner(session)
    billed = [make_article(session, headline="First billed story"), make_article(session, headline="Second billed story")]
    licence = make_licence(session, partner=partner, articles=billed, scope="bundle", amount=500, billing_mode="usage")
    now = utcnow()
    for article in billed:
        add_usage(session, licence, article, at=now - timedelta(minutes=5), billable=True)
    invoice = cutoffs.invoice_now(session, partner_id=partner.id, cutoff=now, provider="ledger", actor=TEST_ACTOR)
    [line] = [li for li in invoice_lines(session, invoice) if li.usage_from]
    session.commit()
    _sign_in(web, session, partner)
    assert f'href="/portal/usage?invoice_line={line.id}"' in web.get("/portal/invoices").text
    page = web.get("/portal/usage", params={"invoice_line": line.id})
    assert page.status_code == 200 and "First billed story" in page.text and "Second billed story" in page.text
    assert "2 × 5.00 GBP = 10.00 GBP" in page.text
    assert web.get("/portal/usage", params={"invoice_line": "inl_not_yours"}).status_code == 404


def invoice_lines(session, invoice):
    from api.invoicing import service as invoicing

    return invoicing.get_lines(session, invoice)


def test_a_live_copy_is_retired_from_the_licences_page(web, session) -> None:
    from api.core.db import utcnow
    from api.delivery import caps
    from tests.reports.data import add_usage

    partner = make_partner(session)
    shown, other = make_article(session, headline="A story still shown"), make_article(session)
    licence = make_licence(session, partner=partner, articles=[shown, other], scope="bundle", max_live_articles=2)
    add_usage(session, licence, shown, at=utcnow(), billable=True)
    caps.admit(session, licence.id, [shown.id], cap=2)  # the content path's two steps for a first delivery
    csrf = _sign_in(web, session, partner)
    page = web.get("/portal/licences").text
    assert "1 of 2" in page and "A story still shown" in page
    action = f"/portal/licences/{licence.id}/copies/{shown.id}/retire"
    assert f'action="{action}"' in page
    done = web.post(action, data={"csrf_token": csrf})
    assert done.status_code == 200 and "The copy is retired" in done.text and "0 of 2" in done.text
    assert web.post(f"/portal/licences/{licence.id}/copies/{other.id}/retire",
                    data={"csrf_token": csrf}).status_code == 404


def test_the_licences_page_takes_as_many_queries_for_ten_licences_as_for_one_of_each_kind(app, web, session) -> None:
    from tests.delivery.test_entitlements import _partner_with_licences
    from tests.query_plans import counted

    answers = {}
    for count in (1, 2, 10):
        partner, _keys = _partner_with_licences(web, session, count)
        _sign_in(web, session, partner)
        web.get("/portal/licences")
        with counted(app.state.engine) as statements:
            page = web.get("/portal/licences")
        assert page.status_code == 200 and page.text.count("/tokens/") >= count
        answers[count] = len(statements)
    assert answers[1] <= answers[2] == answers[10], answers
