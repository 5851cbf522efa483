"""Portal pages after sign-in: counter-offers, licences and their tokens, invoices, API keys.
Every rule is the services' own (licensing, delivery, invoicing, partners); this module only
turns forms into service calls and results into pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.core.db import utcnow
from api.core.errors import SyndicateError
from api.delivery import caps
from api.delivery.quotas import quota_standings
from api.delivery.snapshots import licence_views
from api.delivery import service as delivery
from api.deps import SessionDep, SettingsDep
from api.invoicing import service as invoicing
from api.licensing import service as licensing
from api.partners import keys as partner_keys
from api.portal import usage as partner_usage
from api.portal import views
from api.portal.views import PortalUser, PostingUser
from api.web.pages import attempt

router = APIRouter(include_in_schema=False)
LICENCE_STATES = {"awaiting_payment": "Waiting for payment", "active": "Active", "expired": "Expired",
                  "revoked": "Revoked", "suspended": "Suspended (payment failed)", "cancelled": "Cancelled"}
LICENCE_DONE = {"cancelled": "The licence is cancelled and its invoice void: nothing is owed for it.",
                "revoked": "The token is revoked.",
                "retired": "The copy is retired: it no longer counts as live, and any slot it held is free."}
INVOICE_STATES = {"draft": "Being prepared", "open": "To pay", "paid": "Paid", "void": "Cancelled",
                  "uncollectible": "Unpaid"}


def _refusal(error: SyndicateError) -> views.PortalRefusal:
    return views.PortalRefusal(error.detail or error.title, status=error.status)


@router.post("/portal/requests/{request_id}/accept")
def accept(request_id: str, who: PostingUser, session: SessionDep):
    error = attempt(session, lambda: licensing.accept_counter(session, request_id, partner_id=who.partner.id))
    if error:
        raise _refusal(error)
    return views.redirect("/portal?done=accepted")


@router.post("/portal/requests/{request_id}/decline")
def decline(request_id: str, who: PostingUser, session: SessionDep, reason: Annotated[str, Form()] = ""):
    error = attempt(session, lambda: licensing.decline_counter(session, request_id, partner_id=who.partner.id,
                                                               reason=reason or None))
    if error:
        raise _refusal(error)
    return views.redirect("/portal?done=declined")


def _licences_page(request: Request, session, settings, who, *, minted: str | None = None,
                   minted_for: str | None = None, error: str | None = None, done: str | None = None) -> HTMLResponse:
    rows, _next = licensing.list_licences(session, partner_id=who.partner.id, limit=50)
    tokens = delivery.recent_tokens(session, licence_ids=[r.id for r in rows], partner_id=who.partner.id, limit=10)
    now = utcnow()
    quotas = quota_standings(session, licence_views(session, rows, now=now), now=now)
    live = caps.live_by_licence(session, [r for r in rows if r.state == "active"])
    ids = list(dict.fromkeys(a for r in rows for a in r.article_ids))
    headlines = {article.id: article.headline for article, _assets in catalogue.get_articles_with_assets(session, ids)}
    example = next((r.article_ids[0] for r in rows if r.id == minted_for and r.article_ids), "ARTICLE_ID")
    return views.render(request, "licences.html", who=who, rows=rows, tokens=tokens, quotas=quotas, live=live,
                        labels=LICENCE_STATES,
                        headlines=headlines, example_article=example,
                        minted=minted, minted_for=minted_for, error=error, base_url=settings.public_base_url,
                        done=LICENCE_DONE.get(done or ""), page="licences")


@router.get("/portal/licences", response_class=HTMLResponse)
def licences_page(request: Request, who: PortalUser, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _licences_page(request, session, settings, who, done=request.query_params.get("done"))


@router.post("/portal/licences/{licence_id}/cancel")
def cancel_licence(licence_id: str, who: PostingUser, session: SessionDep, reason: Annotated[str, Form()] = ""):
    error = attempt(session, lambda: licensing.cancel_licence(session, licence_id, actor=Actor("partner", who.partner.id),
                                                              reason=reason.strip() or None, partner_id=who.partner.id))
    if error:
        raise _refusal(error)
    return views.redirect("/portal/licences?done=cancelled")


@router.post("/portal/licences/{licence_id}/copies/{article_id}/retire")
def retire_copy(licence_id: str, article_id: str, who: PostingUser, session: SessionDep):
    error = attempt(session, lambda: caps.retire(session, licence_id=licence_id, article_id=article_id,
                                                    partner_id=who.partner.id, actor=Actor("partner", who.partner.id)))
    if error:
        raise _refusal(error)
    return views.redirect("/portal/licences?done=retired")


@router.post("/portal/licences/{licence_id}/tokens", response_class=HTMLResponse)
def mint(request: Request, licence_id: str, who: PostingUser, session: SessionDep, settings: SettingsDep):
    minted: list[str] = []
    error = attempt(session, lambda: minted.append(
        delivery.mint_token(session, settings, licence_id=licence_id, partner_id=who.partner.id)[0]))
    if error:
        return _licences_page(request, session, settings, who, error=error.detail or error.title)
    session.commit()  # the token is shown once: it must exist before the page shows it
    return _licences_page(request, session, settings, who, minted=minted[0], minted_for=licence_id)


@router.post("/portal/licences/{licence_id}/tokens/{jti}/revoke")
def revoke_token(licence_id: str, jti: str, who: PostingUser, session: SessionDep):
    error = attempt(session, lambda: delivery.revoke_token(session, licence_id=licence_id, partner_id=who.partner.id,
                                                           jti=jti))
    if error:
        raise _refusal(error)
    return views.redirect("/portal/licences?done=revoked")


@router.get("/portal/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, who: PortalUser, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    rows, _next = invoicing.list_invoices(session, partner_id=who.partner.id, limit=50)
    return views.render(request, "invoices.html", who=who, rows=[(r, invoicing.get_lines(session, r)) for r in rows],
                        labels=INVOICE_STATES, instructions=settings.portal_payment_instructions, page="invoices")


def _keys_page(request: Request, session, who, *, created: str | None = None, error: str | None = None):
    rows, _next = partner_keys.list_keys(session, partner_id=who.partner.id, limit=50)
    return views.render(request, "keys.html", who=who, rows=rows, created=created, error=error, page="keys")


@router.get("/portal/keys", response_class=HTMLResponse)
def keys_page(request: Request, who: PortalUser, session: SessionDep) -> HTMLResponse:
    return _keys_page(request, session, who)


@router.post("/portal/keys", response_class=HTMLResponse)
def create_key(request: Request, who: PostingUser, session: SessionDep, name: Annotated[str, Form()] = ""):
    created: list[str] = []
    error = attempt(session, lambda: created.append(partner_keys.create_key(
        session, partner_id=who.partner.id, name=name.strip() or "portal key", actor=Actor("partner", who.partner.id))[1]))
    if error:
        return _keys_page(request, session, who, error=error.detail or error.title)
    session.commit()
    return _keys_page(request, session, who, created=created[0])


@router.post("/portal/keys/{key_id}/revoke")
def revoke_key(key_id: str, who: PostingUser, session: SessionDep):
    error = attempt(session, lambda: partner_keys.revoke_key(session, partner_id=who.partner.id, key_id=key_id,
                                                             actor=Actor("partner", who.partner.id)))
    if error:
        raise _refusal(error)
    return views.redirect("/portal/keys?done=revoked")


@router.get("/portal/usage", response_class=HTMLResponse)
def usage_page(request: Request, who: PortalUser, session: SessionDep, invoice_line: str | None = None) -> HTMLResponse:
    licences, _next = licensing.list_licences(session, partner_id=who.partner.id, limit=100)
    env = views.templates.env
    names = {r.id: f"{env.filters['use'](r.use)}, {r.starts_at:%d %b %Y} to {r.ends_at:%d %b %Y}" for r in licences}
    billed = None  # an invoice line's deliveries, to check the line against
    if invoice_line:
        found: list = []
        error = attempt(session, lambda: found.append(partner_usage.billed_by_line(session, who.partner.id, invoice_line)))
        if error:
            raise _refusal(error)
        billed = found[0]
    return views.render(request, "usage.html", who=who, rows=partner_usage.rows(session, who.partner.id),
                        licences=names, months=partner_usage.MONTHS, page="usage", billed=billed)


@router.get("/portal/usage/chart.svg")
def usage_chart(who: PortalUser, session: SessionDep) -> Response:
    svg = partner_usage.chart_svg(partner_usage.rows(session, who.partner.id))
    # Shown through <img>, where an SVG runs no script; its own policy lets pygal's inline styles apply.
    return Response(svg, media_type="image/svg+xml", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})


WEBHOOK_EVENTS = {"article.updated": "Article updated", "article.corrected": "Article corrected",
                  "article.withdrawn": "Article withdrawn", "article.embargo_lifted": "Embargo lifted",
                  "licence.cancelled": "Licence cancelled",
                  "licence.amended": "Licence changed", "copy.still_live": "Copy still live after a kill",
                  "webhook.test": "Test event"}
DELIVERY_STATES = {"pending": "Waiting to be sent", "succeeded": "Delivered", "failed": "Failed (given up)",
                   "held": "Held until you enable the address"}
WEBHOOK_DONE = {"tested": "A test event is on its way; its result appears below in a moment.",
                "enabled": "The address is enabled again; the deliveries held meanwhile are being sent.",
                "resent": "The delivery is being sent again."}


def _webhooks_page(request: Request, session, who, *, secret: str | None = None, rotated=None,
                   error: SyndicateError | str | None = None, url: str = ""):
    endpoints, _next = delivery.list_endpoints(session, partner_id=who.partner.id, cursor=None, limit=50)
    deliveries = {e.id: delivery.list_deliveries(session, endpoint_id=e.id, partner_id=who.partner.id, cursor=None,
                                                 limit=10)[0] for e in endpoints}
    code = (error.status if isinstance(error, SyndicateError) else 422) if error else 200
    message = (error.detail or error.title) if isinstance(error, SyndicateError) else error
    return views.render(request, "webhooks.html", who=who, endpoints=endpoints, deliveries=deliveries, secret=secret,
                        rotated=rotated, error=message, url=url, page="webhooks", code=code, events=WEBHOOK_EVENTS,
                        states=DELIVERY_STATES, now=utcnow(), done=WEBHOOK_DONE.get(request.query_params.get("done", "")))


@router.get("/portal/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, who: PortalUser, session: SessionDep) -> HTMLResponse:
    return _webhooks_page(request, session, who)


@router.post("/portal/webhooks", response_class=HTMLResponse)
def add_webhook(request: Request, who: PostingUser, session: SessionDep, settings: SettingsDep,
                url: Annotated[str, Form()] = "", description: Annotated[str, Form()] = ""):
    created: list[str] = []
    error = attempt(session, lambda: created.append(delivery.create_endpoint(
        session, settings, partner_id=who.partner.id, url=url.strip(), description=description.strip() or None)[1]))
    if error:
        return _webhooks_page(request, session, who, error=error.detail or error.title, url=url)
    session.commit()  # the secret is shown once: the endpoint must exist before the page shows it
    return _webhooks_page(request, session, who, secret=created[0])


@router.post("/portal/webhooks/{endpoint_id}/remove")
def remove_webhook(endpoint_id: str, who: PostingUser, session: SessionDep):
    error = attempt(session, lambda: delivery.delete_endpoint(session, endpoint_id=endpoint_id,
                                                              partner_id=who.partner.id))
    if error:
        raise _refusal(error)
    return views.redirect("/portal/webhooks")


@router.post("/portal/webhooks/{endpoint_id}/rotate", response_class=HTMLResponse)
def rotate_webhook_secret(request: Request, endpoint_id: str, who: PostingUser, session: SessionDep,
                          settings: SettingsDep):
    rotated: list = []
    error = attempt(session, lambda: rotated.append(delivery.rotate_secret(
        session, settings, endpoint_id=endpoint_id, partner_id=who.partner.id)))
    if error:
        return _webhooks_page(request, session, who, error=error)
    session.commit()  # the secret is shown once: it must be in force before the page shows it
    endpoint, secret = rotated[0]
    return _webhooks_page(request, session, who, secret=secret, rotated=endpoint)


def _webhook_action(request: Request, session, who, action, done: str):
    error = attempt(session, action)
    if error:
        return _webhooks_page(request, session, who, error=error)
    return views.redirect(f"/portal/webhooks?done={done}")


@router.post("/portal/webhooks/{endpoint_id}/test", response_class=HTMLResponse)
def test_webhook(request: Request, endpoint_id: str, who: PostingUser, session: SessionDep):
    return _webhook_action(request, session, who, lambda: delivery.send_test_event(
        session, endpoint_id=endpoint_id, partner_id=who.partner.id), "tested")


@router.post("/portal/webhooks/{endpoint_id}/enable", response_class=HTMLResponse)
def enable_webhook(request: Request, endpoint_id: str, who: PostingUser, session: SessionDep):
    return _webhook_action(request, session, who, lambda: delivery.enable_endpoint(
        session, endpoint_id=endpoint_id, partner_id=who.partner.id), "enabled")


@router.post("/portal/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend", response_class=HTMLResponse)
def resend_webhook_delivery(request: Request, endpoint_id: str, delivery_id: str, who: PostingUser,
                            session: SessionDep):
    return _webhook_action(request, session, who, lambda: delivery.resend_delivery(
        session, endpoint_id=endpoint_id, delivery_id=delivery_id, partner_id=who.partner.id), "resent")
