"""The signed-in staff user's own account: change the password (same service and rules as
`POST /v1/staff/me/password`). Open to every role, like logging out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.deps import ConsoleStaff, PostingStaff
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.staff import service as staff_service
from api.staff.deps import limit_logins
from api.staff.throttle import LoginThrottle

router = APIRouter()


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, staff: ConsoleStaff) -> HTMLResponse:
    return views.render(request, "password.html", staff=staff,
                        done="Password changed: your other sessions have ended." if request.query_params.get("done")
                        else None)


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, staff: PostingStaff, session: SessionDep, settings: SettingsDep,
                          throttle: Annotated[LoginThrottle, Depends(limit_logins)],
                          current_password: Annotated[str, Form()] = "", new_password: Annotated[str, Form()] = "",
                          ) -> Response:
    if not current_password or not new_password:
        return views.render(request, "password.html", staff=staff, code=422,
                            error="Type your current password and the new one.")
    try:
        await staff_service.change_password(session, settings, user=staff.user, staff_session_id=staff.session_id,
                                            current_password=current_password, new_password=new_password,
                                            throttle=throttle)
    except SyndicateError as error:
        response = views.render(request, "password.html", staff=staff, code=error.status,
                                error=views.error_message(error))
        response.headers.update(error.extra.get("headers") or {})
        return response
    return views.redirect("/console/password?done=1")
