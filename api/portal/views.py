"""The portal's plumbing: its templates, the session cookie, CSRF tokens and the signed-in partner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.core.config import Settings
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.portal import service as portal
from api.portal.usage import month_label
from api.licensing import service as licensing
from api.web import names, pages

templates = pages.templates_for(Path(__file__).parent / "templates")
SHORT_SCOPES = {"article": "One article", "bundle": "A list of articles", "section_feed": "A section feed",
                "catalogue": "The whole catalogue"}


# Names, not codes, on every portal page (territories, languages, uses, scopes, months).
templates.env.filters["countries"] = names.countries
templates.env.filters["language"] = names.language
templates.env.filters["use"] = licensing.use_name
templates.env.filters["scope"] = lambda scope: SHORT_SCOPES.get(str(scope), str(scope).replace("_", " ").capitalize())
templates.env.filters["month"] = month_label
CSRF_PURPOSE = "portal-csrf"


class PortalRefusal(Exception):
    """Answered with an HTML page (403 by default)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class SignInRequired(Exception):
    """Answered with a redirect to the sign-in page."""


def cookie_name(settings: Settings) -> str:
    # `__Host-` binds the cookie to this host and path "/", and browsers take it only when Secure.
    return "__Host-syndicate_portal" if settings.public_base_url.startswith("https://") else "syndicate_portal"


def cookie_args(settings: Settings) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": settings.public_base_url.startswith("https://"),
            "path": "/"}


class Portal:
    def __init__(self, user: portal.PortalUser, settings: Settings) -> None:
        self.user, self.partner = user, user.partner
        self.csrf = pages.form_token(settings, CSRF_PURPOSE, user.session_id)


def current(request: Request, session: SessionDep, settings: SettingsDep) -> Portal:
    try:
        user = portal.authenticate(session, request.cookies.get(cookie_name(settings)))
    except SyndicateError:
        raise SignInRequired() from None
    return Portal(user, settings)


PortalUser = Annotated[Portal, Depends(current)]


def posting(request: Request, who: PortalUser, settings: SettingsDep,
            csrf_token: Annotated[str | None, Form()] = None) -> Portal:
    if not pages.is_same_origin(request, settings) or not csrf_token or csrf_token != who.csrf:
        raise PortalRefusal("This form is out of date or did not come from the portal. Reload the page and try again.")
    return who


PostingUser = Annotated[Portal, Depends(posting)]


def render(request: Request, name: str, *, code: int = 200, **context: Any) -> HTMLResponse:
    return pages.render(templates, request, name, code=code, **context)


def redirect(url: str) -> RedirectResponse:
    return pages.with_headers(RedirectResponse(url, status_code=303))
