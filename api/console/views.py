"""The console's plumbing: templates, the login cookie, CSRF tokens, role checks and money display.

No business rule lives here: decisions, roles and states come from the domain services.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from api.core.config import Settings
from api.core.errors import SyndicateError, Unauthenticated
from api.staff import permissions, service as staff_service
from api.staff.errors import StaffSessionExpired
from api.staff.models import StaffSession, StaffUser
from api.licensing import service as licensing
from api.web import names, pages
from api.console import labels
from api.console.errors import BadAmount
from api.staff.errors import RoleRequired

SESSION_COOKIE = "syndicate_console"
# The console's styles are one stylesheet (api/web/static/console.css): no inline style, no script.
LOGIN_CSRF_COOKIE = "syndicate_console_login"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# ISO 4217 currencies whose minor unit is not a hundredth.
_EXPONENTS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
              "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0}


def exponent(currency: str) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


def money(amount: int | None, currency: str) -> str:
    """123456, "GBP" -> "1,234.56 GBP" (integer arithmetic: no float rounding)."""
    if amount is None:
        return "-"
    places = exponent(currency)
    sign, amount = ("-" if amount < 0 else ""), abs(int(amount))
    major, minor = divmod(amount, 10 ** places) if places else (amount, 0)
    return f"{sign}{major:,}{'.' + str(minor).zfill(places) if places else ''} {currency}"


def plain_amount(amount: int, currency: str) -> str:
    """123456, "GBP" -> "1234.56": for CSV, where a spreadsheet reads it as a number."""
    places = exponent(currency)
    sign, amount = ("-" if amount < 0 else ""), abs(int(amount))
    major, minor = divmod(amount, 10 ** places) if places else (amount, 0)
    return f"{sign}{major}{'.' + str(minor).zfill(places) if places else ''}"


def parse_amount(text: str | None, currency: str) -> int | None:
    """What staff type ("1,234.56") -> minor units (123456); empty -> None."""
    text = (text or "").replace(",", "").replace(" ", "").strip()
    if not text:
        return None
    places = exponent(currency)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadAmount(f"“{text}” is not an amount; type it like 1234.56 ({currency}).") from None
    minor = value.scaleb(places)
    if value < 0 or minor != minor.to_integral_value():
        raise BadAmount(f"“{text}” is not an amount in {currency}: use at most {places} decimal places, not negative.")
    return int(minor)


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# --- who is logged in ----------------------------------------------------------------------------


class LoginRequired(Exception):
    """Raised by the console's dependencies; answered with a redirect to the login page, which says
    why a session ended (`reason`: idle, lifetime, ended, disabled; None when there was none)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


class ReauthenticationNeeded(Exception):
    """Raised before an admin change when the password was not typed recently; answered with the
    re-authentication page, whose form carries the original fields back to the same action."""

    def __init__(self, staff: Staff, action: str, fields: list[tuple[str, str]], error: str | None = None,
                 status: int = 403) -> None:
        super().__init__(action)
        self.staff, self.action, self.fields, self.error, self.status = staff, action, fields, error, status


class ConsoleRefusal(Exception):
    """Raised by the console's dependencies; answered with an HTML page (403 by default)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Staff:
    user: StaffUser
    session_id: str
    csrf: str
    settings: Settings = field(repr=False)
    staff_session: StaffSession | None = field(default=None, repr=False)

    def may(self, permission: str) -> bool:
        """Whether the staff permission table (api/staff/permissions.py) grants `permission`: for templates."""
        return permissions.allows(self.user, permission)

    def can(self, *roles: str) -> bool:
        """The API's own role rule (`require_role`), asked without raising. Pages and templates ask
        `may(permission)`: a role check outside the permission table is not least privilege."""
        try:
            staff_service.require_role(self.user, roles)
        except RoleRequired:
            return False
        return True


def csrf_token(settings: Settings, session_id: str) -> str:
    """Bound to the login session: it changes with every login and dies with the session."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"console-csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def authenticate(request: Request, session, settings: Settings) -> Staff:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        user, staff_session = staff_service.authenticate(session, settings, token)
    except StaffSessionExpired as exc:
        raise LoginRequired(exc.extra.get("reason")) from None
    except Unauthenticated:
        raise LoginRequired() from None
    return Staff(user=user, session_id=staff_session.id, csrf=csrf_token(settings, staff_session.id),
                 settings=settings, staff_session=staff_session)


def check_csrf(staff: Staff, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(sent, staff.csrf):
        raise ConsoleRefusal("This form is out of date or did not come from the console. Reload the page and try again.")


def require(staff: Staff, *roles: str) -> None:
    """Role-level; console pages name a permission instead (`ConsoleStaffMay`, api/console/deps.py)."""
    try:
        staff_service.require_role(staff.user, roles)
    except RoleRequired as exc:
        raise ConsoleRefusal(exc.detail) from None


def cookie_args(settings: Settings) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": settings.public_base_url.startswith("https://"),
            "path": "/console"}


def signed_out_message(reason: str | None, settings: Settings) -> str | None:
    """What the login page says about the session that just ended (the reason comes from the URL, so
    only these fixed sentences can appear)."""
    return {
        "idle": f"You were signed out after {settings.staff_session_idle_minutes} minutes without activity. "
                "Log in again to continue.",
        "lifetime": f"You were signed out: a session lasts at most {settings.staff_session_absolute_hours} hours. "
                    "Log in again to continue.",
        "ended": "Your session has ended. Log in again to continue.",
        "disabled": "Your staff account is disabled. Ask an admin.",
    }.get(reason or "")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


# --- answering -----------------------------------------------------------------------------------


def render(request: Request, template: str, *, staff: Staff | None = None, code: int = 200,
           error: str | SyndicateError | None = None, inline_styles: Sequence[str] = (),
           **context: Any) -> HTMLResponse:
    """`code` is the HTTP status; `error`, a sentence for the page's error box, or the domain error
    an action raised (its message, and its status: 409, 422... unless `code` says otherwise);
    `inline_styles`, the hashes of the page's own `<style>` elements (a chart's,
    api/console/charts.py), the only inline style allowed."""
    if isinstance(error, SyndicateError):
        code = error.status if code == 200 else code
        error = error_message(error)
    response = templates.TemplateResponse(request, template, {"staff": staff, "error": error, **context},
                                          status_code=code)
    return pages.with_headers(response, style_src=" ".join(("'self'", *inline_styles)))


def error_message(exc: SyndicateError) -> str:
    return exc.detail or exc.title


def redirect(url: str) -> RedirectResponse:
    return pages.with_headers(RedirectResponse(url, status_code=303))


templates.env.globals["static"] = lambda name: f"{pages.STATIC_PATH}/{name}"
templates.env.filters["money"] = lambda amount, currency: money(amount, currency)
templates.env.filters["when"] = lambda value: value.strftime("%d %b %Y %H:%M UTC") if value else "-"
templates.env.filters["day"] = lambda value: value.strftime("%d %b %Y") if value else "-"
# Names, not codes (the portal's own, api/web/names.py): "Website", "United Kingdom", "English".
templates.env.filters["label"] = labels.label
templates.env.filters["countries"] = names.countries
templates.env.filters["country"] = names.country
templates.env.filters["language"] = names.language
templates.env.filters["use"] = licensing.use_name
