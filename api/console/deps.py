"""Who is using the console: the staff session from the cookie, and the CSRF check on every POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Form, Request

from api.console import views
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.web.pages import attempt  # noqa: F401 - the console's pages import it from here


def current_staff(request: Request, session: SessionDep, settings: SettingsDep) -> Staff:
    return views.authenticate(request, session, settings)


ConsoleStaff = Annotated[Staff, Depends(current_staff)]


def posting_staff(staff: ConsoleStaff, csrf_token: Annotated[str | None, Form()] = None) -> Staff:
    views.check_csrf(staff, csrf_token)
    return staff


PostingStaff = Annotated[Staff, Depends(posting_staff)]


def found(lookup: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A service lookup (or listing) whose domain error, such as NotFound or a stale page cursor,
    becomes a readable page instead of problem JSON."""
    try:
        return lookup(*args, **kwargs)
    except SyndicateError as exc:
        raise views.ConsoleRefusal(views.error_message(exc), status=exc.status) from None
