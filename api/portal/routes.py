"""The partner portal (`/portal`) and the republish page (`/republish/...`): HTML pages over the
partner, licensing and billing services. Kept out of the OpenAPI contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.licensing import service as licensing
from api.portal import pages as portal_pages, republish_pages, service as portal, tracking_pages, views
from api.portal.views import PortalUser, PostingUser
from api.web import pages

router = APIRouter(include_in_schema=False)
STATE_LABELS = {"submitted": "Submitted", "in_review": "Being reviewed", "approved": "Approved",
                "rejected": "Declined by the desk", "countered": "Counter-offer waiting for you",
                "declined": "Counter-offer declined", "awaiting_payment": "Waiting for payment", "active": "Active",
                "cancelled": "Cancelled", "expired": "Expired", "revoked": "Revoked", "suspended": "Suspended"}


def _signed_in(settings, token: str) -> RedirectResponse:
    response = pages.with_headers(RedirectResponse("/portal", status_code=303))
    response.set_cookie(views.cookie_name(settings), token, max_age=settings.portal_session_hours * 3600,
                        **views.cookie_args(settings))
    return response


@router.get("/portal/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return views.render(request, "sign_in.html", sent=request.query_params.get("sent") == "1")


@router.post("/portal/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form()] = "",
            api_key: Annotated[str, Form()] = ""):
    if not pages.is_same_origin(request, settings):
        raise views.PortalRefusal("This form did not come from the portal.")
    if api_key.strip():
        try:
            return _signed_in(settings, portal.sign_in_with_key(session, settings, api_key))
        except SyndicateError:
            session.rollback()
            return views.render(request, "sign_in.html", code=401, sent=False,
                                error="That API key does not work. Check it, or ask for a link by e-mail instead.")
    if email.strip():
        portal.request_sign_in_link(session, settings, email=email)
    return pages.with_headers(RedirectResponse("/portal/sign-in?sent=1", status_code=303))


@router.get("/portal/sign-in/{token}", response_class=HTMLResponse)
def sign_in_link_page(request: Request, token: str) -> HTMLResponse:
    # A GET only shows a button: mail scanners that open links must not use up the one-time link.
    return views.render(request, "sign_in_link.html", token=token)


@router.post("/portal/sign-in/{token}", response_class=HTMLResponse)
def use_sign_in_link(request: Request, token: str, session: SessionDep, settings: SettingsDep):
    if not pages.is_same_origin(request, settings):
        raise views.PortalRefusal("This form did not come from the portal.")
    try:
        raw = portal.redeem_sign_in_link(session, settings, token)
    except SyndicateError as error:
        session.rollback()
        return views.render(request, "sign_in.html", code=error.status, sent=False, error=error.detail)
    return _signed_in(settings, raw)


@router.post("/portal/sign-out")
def sign_out(who: PostingUser, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    portal.sign_out(session, who.user.session_id)
    response = pages.with_headers(RedirectResponse("/portal/sign-in", status_code=303))
    response.delete_cookie(views.cookie_name(settings), **views.cookie_args(settings))
    return response


@router.get("/portal", response_class=HTMLResponse)
def requests_page(request: Request, who: PortalUser, session: SessionDep, cursor: str | None = None) -> HTMLResponse:
    rows, next_cursor = licensing.list_requests(session, partner_id=who.partner.id, cursor=cursor, limit=25)
    done = {"accepted": "You accepted the counter-offer.", "declined": "You declined the counter-offer."}
    return views.render(request, "requests.html", who=who, rows=rows, next_cursor=next_cursor, labels=STATE_LABELS,
                        page="requests", done=done.get(request.query_params.get("done", "")))


router.include_router(republish_pages.router)
router.include_router(portal_pages.router)
router.include_router(tracking_pages.router)


def install(app: FastAPI) -> None:
    app.mount(pages.STATIC_PATH, pages.static_files(), name="static")

    @app.exception_handler(views.SignInRequired)
    async def _sign_in(request: Request, exc: views.SignInRequired) -> RedirectResponse:
        return pages.with_headers(RedirectResponse("/portal/sign-in", status_code=303))

    @app.exception_handler(views.PortalRefusal)
    async def _refused(request: Request, exc: views.PortalRefusal) -> HTMLResponse:
        return views.render(request, "refused.html", code=exc.status, error=exc.message)
