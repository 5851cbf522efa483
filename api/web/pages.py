"""What every server-rendered page shares: templates with the display filters, the security
headers (a Content-Security-Policy the pages satisfy: no inline script or style), and the
same-origin check on state-changing posts. No business rule lives here."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.templating import Jinja2Templates

from api.core.config import Settings
from api.core.errors import SyndicateError
from api.core.money import format_money

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
SHARED_TEMPLATES = Path(__file__).parent / "templates"


def templates_for(directory: Path) -> Jinja2Templates:
    """A page package's templates, able to extend the shared ones, with the shared filters."""
    templates = Jinja2Templates(directory=str(directory))
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(directory)), FileSystemLoader(str(SHARED_TEMPLATES))])
    templates.env.filters["money"] = lambda amount, currency: "-" if amount is None else format_money(amount, currency)
    templates.env.filters["when"] = lambda value: value.strftime("%d %b %Y %H:%M UTC") if value else "-"
    templates.env.filters["day"] = lambda value: value.strftime("%d %b %Y") if value else "-"
    templates.env.globals["static"] = lambda name: f"{STATIC_PATH}/{name}"
    return templates


def security_headers(frame_ancestors: str = "'none'", *, style_src: str = "'self'") -> dict[str, str]:
    """`style_src` widens only by the hashes of a page's own `<style>` elements (the console's charts)."""
    policy = (f"default-src 'self'; script-src 'self'; style-src {style_src}; img-src 'self' https: data:; "
              "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
              f"frame-ancestors {frame_ancestors}")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def with_headers(response: HTMLResponse | RedirectResponse, frame_ancestors: str = "'none'", *,
                 style_src: str = "'self'"):
    response.headers.update(security_headers(frame_ancestors, style_src=style_src))
    return response


def own_origin(settings: Settings) -> str:
    parts = urlsplit(settings.public_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def is_same_origin(request: Request, settings: Settings) -> bool:
    """A state-changing post must come from our own pages: browsers send `Origin` on every POST,
    so a foreign one (or the opaque "null") is refused; a client that sends none is not a browser
    page of another site."""
    origin = request.headers.get("origin")
    return origin is None or origin == own_origin(settings)


def form_token(settings: Settings, purpose: str, value: str) -> str:
    """An HMAC of `value` for `purpose`: proves a form was issued by us (CSRF) without storing it."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(STATIC_DIR))


def render(templates: Jinja2Templates, request: Request, name: str, *, code: int = 200,
           frame_ancestors: str = "'none'", **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=code)
    return with_headers(response, frame_ancestors)


def attempt(session, action: Callable[[], Any]) -> SyndicateError | None:
    """Run a service action; on a domain error undo everything it wrote and hand the error back
    for the page to show (the request's transaction would otherwise commit a half-done action)."""
    try:
        action()
    except SyndicateError as exc:
        session.rollback()
        return exc
    return None
