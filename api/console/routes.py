"""The staff web console: server-rendered pages over the same services as the staff API.

Pages live in `licensing_pages` (queue, requests, licences) and `desk_pages` (invoices, partners,
audit); this module has login, logout and the dashboard, and answers the console's own refusals
with HTML instead of problem JSON.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console import (
    account_pages, amendment_pages, billing_pages, desk_pages, licensing_pages, operations_pages, partner_pages, ratecard_pages,
    revenue_pages, staff_pages, tracking_pages, views,
)
from api.console.deps import ConsoleStaff, PostingStaff
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.reports import service as reports
from api.staff import service as staff_service
from api.staff.deps import limit_logins

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    token = views.new_login_csrf()
    notice = views.signed_out_message(request.query_params.get("signed_out"), settings)
    response = views.render(request, "login.html", login_csrf=token, email="", notice=notice)
    response.set_cookie(views.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console/login")
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = ""):
    # No session exists yet, so the login form's token is checked against its own cookie.
    expected = request.cookies.get(views.LOGIN_CSRF_COOKIE)
    if not expected or not csrf_token or not hmac.compare_digest(expected, csrf_token):
        raise views.ConsoleRefusal("The login form is out of date. Open the login page again.")
    try:
        # Async, like the API login: Argon2 waits in its own bounded threads, not in the thread pool.
        throttle = await to_thread.run_sync(limit_logins, request)
        token, _staff_session, _user = await staff_service.login(session, settings, email=email, password=password,
                                                                 throttle=throttle)
    except SyndicateError as error:
        session.rollback()
        response: Response = views.render(request, "login.html", code=error.status, error=views.error_message(error),
                                login_csrf=expected, email=email)
        response.headers.update(error.extra.get("headers") or {})  # a 429's Retry-After
        return response
    response = views.redirect("/console")
    # The cookie outlives the session by an hour, so that the login page can say why it ended.
    response.set_cookie(views.SESSION_COOKIE, token, max_age=(settings.staff_session_absolute_hours + 1) * 3600,
                        **views.cookie_args(settings))
    response.delete_cookie(views.LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/logout")
def logout(staff: PostingStaff, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    staff_service.logout(session, staff.session_id)
    response = views.redirect("/console/login")
    response.delete_cookie(views.SESSION_COOKIE, **views.cookie_args(settings))
    return response


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, staff: ConsoleStaff, session: SessionDep) -> HTMLResponse:
    return views.render(request, "dashboard.html", staff=staff, figures=reports.dashboard(session))


router.include_router(licensing_pages.router)
router.include_router(desk_pages.router)
router.include_router(amendment_pages.router)
router.include_router(billing_pages.router)
router.include_router(ratecard_pages.router)
router.include_router(revenue_pages.router)
router.include_router(operations_pages.router)
router.include_router(staff_pages.router)
router.include_router(partner_pages.router)
router.include_router(account_pages.router)
router.include_router(tracking_pages.router)


def install(app: FastAPI) -> None:
    @app.exception_handler(views.LoginRequired)
    async def _login_required(request: Request, exc: views.LoginRequired) -> RedirectResponse:
        if exc.reason is None:
            return views.redirect("/console/login")
        response = views.redirect(f"/console/login?signed_out={exc.reason}")
        response.delete_cookie(views.SESSION_COOKIE, **views.cookie_args(request.app.state.settings))
        return response

    @app.exception_handler(views.ReauthenticationNeeded)
    async def _reauthenticate(request: Request, exc: views.ReauthenticationNeeded) -> HTMLResponse:
        minutes = request.app.state.settings.staff_reauthenticate_minutes
        return views.render(request, "reauthenticate.html", staff=exc.staff, code=exc.status, error=exc.error,
                            action=exc.action, fields=exc.fields, minutes=minutes)

    @app.exception_handler(views.ConsoleRefusal)
    async def _refused(request: Request, exc: views.ConsoleRefusal) -> HTMLResponse:
        return views.render(request, "refused.html", code=exc.status, error=exc.message)
