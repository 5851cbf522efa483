"""Who is using the console: the staff session from the cookie, and the CSRF check on every POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, Form, Request

from api.console import views
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.staff import permissions, service as staff_service
from api.staff.deps import login_throttle
from api.staff.errors import ReauthenticationRequired
from api.staff.throttle import LoginThrottle
from api.web.pages import attempt  # noqa: F401 - the console's pages import it from here


def current_staff(request: Request, session: SessionDep, settings: SettingsDep) -> Staff:
    return views.authenticate(request, session, settings)


ConsoleStaff = Annotated[Staff, Depends(current_staff)]


def posting_staff(staff: ConsoleStaff, csrf_token: Annotated[str | None, Form()] = None) -> Staff:
    views.check_csrf(staff, csrf_token)
    return staff


PostingStaff = Annotated[Staff, Depends(posting_staff)]


def _refuse_unless(staff: Staff, permission: str) -> Staff:
    try:
        permissions.require(staff.user, permission)
    except SyndicateError as exc:
        raise views.ConsoleRefusal(views.error_message(exc)) from None
    return staff


def console_staff_may(permission: str) -> Callable[[Staff], Staff]:
    """The dependency behind `ConsoleStaffMay`: a console page for staff whose roles grant `permission`
    (the API's table, api/staff/permissions.py)."""
    permissions.permission(permission)

    def dependency(staff: ConsoleStaff) -> Staff:
        return _refuse_unless(staff, permission)

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the permission-matrix test
    return dependency


def posting_staff_may(permission: str) -> Callable[..., Any]:
    """The dependency behind `PostingStaffMay`: a console form post (CSRF checked) for staff whose
    roles grant `permission`. Under a permission marked `reauthenticate` the password must have been
    typed recently, else the re-authentication page."""
    if permissions.wants_recent_password(permission, "POST"):
        async def dependency(request: Request, staff: PostingStaff, session: SessionDep, settings: SettingsDep,
                             throttle: Annotated[LoginThrottle, Depends(login_throttle)],
                             reauth_password: Annotated[str | None, Form()] = None) -> Staff:
            _refuse_unless(staff, permission)
            await _confirm_recent_password(request, session, settings, staff, throttle, reauth_password)
            return staff
    else:
        def dependency(staff: PostingStaff) -> Staff:  # type: ignore[misc]  # the other branch's variant takes more parameters
            return _refuse_unless(staff, permission)

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the permission-matrix test
    return dependency


def ConsoleStaffMay(permission: str) -> Any:  # noqa: N802 - reads as a type at runtime: `staff: ConsoleStaffMay("invoices")`
    """A console page for staff whose roles grant `permission`; routes use the aliases below, which mypy reads."""
    return Annotated[Staff, Depends(console_staff_may(permission))]


def PostingStaffMay(permission: str) -> Any:  # noqa: N802
    """A console form post (CSRF checked) for staff whose roles grant `permission`; see the aliases below."""
    return Annotated[Staff, Depends(posting_staff_may(permission))]


# One alias per permission the console uses, readable as a type by mypy and FastAPI alike.
ConsoleStaffMayArticles = Annotated[Staff, Depends(console_staff_may("articles"))]
ConsoleStaffMayLicensing = Annotated[Staff, Depends(console_staff_may("licensing"))]
ConsoleStaffMayPartners = Annotated[Staff, Depends(console_staff_may("partners"))]
ConsoleStaffMayAudit = Annotated[Staff, Depends(console_staff_may("audit"))]
ConsoleStaffMayPartnerDetails = Annotated[Staff, Depends(console_staff_may("partner-details"))]
ConsoleStaffMayUsage = Annotated[Staff, Depends(console_staff_may("usage"))]
ConsoleStaffMayInvoices = Annotated[Staff, Depends(console_staff_may("invoices"))]
ConsoleStaffMayRevenue = Annotated[Staff, Depends(console_staff_may("revenue"))]
ConsoleStaffMayStaff = Annotated[Staff, Depends(console_staff_may("staff"))]
ConsoleStaffMayOutbox = Annotated[Staff, Depends(console_staff_may("outbox"))]
ConsoleStaffMaySigningKeys = Annotated[Staff, Depends(console_staff_may("signing-keys"))]
PostingStaffMayArticles = Annotated[Staff, Depends(posting_staff_may("articles"))]
PostingStaffMayLicensing = Annotated[Staff, Depends(posting_staff_may("licensing"))]
PostingStaffMayPartners = Annotated[Staff, Depends(posting_staff_may("partners"))]
PostingStaffMayAudit = Annotated[Staff, Depends(posting_staff_may("audit"))]
PostingStaffMayPartnerDetails = Annotated[Staff, Depends(posting_staff_may("partner-details"))]
PostingStaffMayUsage = Annotated[Staff, Depends(posting_staff_may("usage"))]
PostingStaffMayInvoices = Annotated[Staff, Depends(posting_staff_may("invoices"))]
PostingStaffMayRevenue = Annotated[Staff, Depends(posting_staff_may("revenue"))]
PostingStaffMayStaff = Annotated[Staff, Depends(posting_staff_may("staff"))]
PostingStaffMayOutbox = Annotated[Staff, Depends(posting_staff_may("outbox"))]
PostingStaffMaySigningKeys = Annotated[Staff, Depends(posting_staff_may("signing-keys"))]


async def _confirm_recent_password(request: Request, session, settings, staff: Staff, throttle: LoginThrottle,
                                   password: str | None) -> None:
    """Let the action run if the password was typed recently, or is typed now (the re-authentication
    page posts it, with the action's own fields, straight back to the action)."""
    assert staff.staff_session is not None
    try:
        staff_service.require_recent_password(staff.staff_session, settings)
        return
    except ReauthenticationRequired:
        pass
    form = await request.form()
    fields = [(name, value) for name, value in form.multi_items()
              if name not in ("csrf_token", "reauth_password") and isinstance(value, str)]
    action = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not password:
        _keep_for_the_page(session, staff)
        raise views.ReauthenticationNeeded(staff, action, fields)
    try:
        await to_thread.run_sync(throttle.attempt_from, request.client.host if request.client else "unknown")
        await staff_service.reauthenticate(session, settings, user=staff.user, staff_session_id=staff.session_id,
                                           password=password, throttle=throttle)
        # Kept even if the action then fails: a corrected form is not asked for the password again.
        await to_thread.run_sync(session.commit)
    except SyndicateError as exc:
        _keep_for_the_page(session, staff)
        await to_thread.run_sync(session.rollback)
        raise views.ReauthenticationNeeded(staff, action, fields, error=views.error_message(exc),
                                           status=exc.status) from None


def _keep_for_the_page(session, staff: Staff) -> None:
    """The request's rollback expires what its session holds; the re-authentication page, rendered
    afterwards, still shows the user's name and navigation."""
    if staff.user in session:
        session.expunge(staff.user)


def found(lookup: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A service lookup (or listing) whose domain error, such as NotFound or a stale page cursor,
    becomes a readable page instead of problem JSON."""
    try:
        return lookup(*args, **kwargs)
    except SyndicateError as exc:
        raise views.ConsoleRefusal(views.error_message(exc), status=exc.status) from None
