"""The staff users page (admins: permission `staff`): accounts a page at a time, keyed on e-mail as
in the API; create one with an initial password, change its roles, disable or re-enable it. Same
service and checks as `/v1/staff/users` (api/staff/service.py, StaffCreate), so each change is audited there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.audit.service import Actor
from api.console import table_views as tables, views
from api.console.table_views import Filter, Table
from api.console.errors import BadStaffForm
from api.console.deps import ConsoleStaffMayStaff, PostingStaffMayStaff, attempt, found
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep
from api.staff import service as staff_service
from api.staff.models import ROLES
from api.staff.schemas import StaffCreate

router = APIRouter()
DONE = {"created": "Staff account created: pass the initial password on by a separate channel.",
        "roles": "Roles changed: they apply from the account's next page or API call.",
        "disabled": "Account disabled: its sessions and tokens stop working at once.",
        "enabled": "Account enabled again."}
FIELDS = {"email": "the e-mail address", "name": "the name", "password": "the initial password", "roles": "the roles"}


def _page(request: Request, session, staff: Staff, *, error: SyndicateError | None = None,
          failed: str | None = None, values: dict | None = None) -> HTMLResponse:
    table = Table.read(request, "/console/staff", [
        Filter("text", "Name or e-mail", kind="text"),
        Filter("active", "Status", choices=[("", "Any"), ("yes", "Active"), ("no", "Disabled")]),
    ], staff_service.STAFF_ORDERS, default_sort="email")
    active = {"yes": True, "no": False}.get(table.values["active"])
    rows, table.next_cursor = found(staff_service.list_staff, session, text=table.value("text"), active=active,
                                    sort=table.sort, cursor=table.cursor, limit=tables.PAGE_SIZE)
    return views.render(request, "staff.html", staff=staff, rows=rows, table=table, roles=ROLES,
                        done=DONE.get(request.query_params.get("done", "")), failed=failed, values=values or {},
                        error=error)


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, staff: ConsoleStaffMayStaff, session: SessionDep) -> HTMLResponse:
    return _page(request, session, staff)


def _changed(request: Request, session, staff: Staff, action, *, done: str, failed: str, values: dict) -> Response:
    error = attempt(session, action)
    if error:
        return _page(request, session, staff, error=error, failed=failed, values=values)
    return views.redirect(f"/console/staff?done={done}")


@router.post("/staff", response_class=HTMLResponse)
def create_staff(request: Request, staff: PostingStaffMayStaff, session: SessionDep,
                 name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", roles: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006

    def act() -> None:
        try:  # the API's own body checks, so the console accepts exactly what `POST /v1/staff/users` does
            body = StaffCreate.model_validate({"name": name.strip(), "email": email.strip(), "password": password,
                                               "roles": roles})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise BadStaffForm(f"Check {FIELDS.get(str(first['loc'][0]), first['loc'][0])}: {first['msg']}.") from None
        staff_service.create_staff(session, email=body.email, name=body.name, password=body.password,
                                   roles=body.roles, actor=Actor("staff", staff.user.id))

    return _changed(request, session, staff, act, done="created", failed="new",
                    values={"name": name, "email": email, "roles": roles})


@router.post("/staff/{staff_id}/roles", response_class=HTMLResponse)
def change_roles(request: Request, staff_id: str, staff: PostingStaffMayStaff, session: SessionDep,
                 roles: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    return _changed(request, session, staff,
                    lambda: staff_service.update_roles(session, staff_id, roles=roles, active=None,
                                                       actor=Actor("staff", staff.user.id)),
                    done="roles", failed=staff_id, values={"roles": roles})


def _set_active(request: Request, session, staff: Staff, staff_id: str, active: bool) -> Response:
    def act() -> None:
        user = staff_service.get_staff(session, staff_id)
        staff_service.update_roles(session, staff_id, roles=user.roles, active=active,
                                   actor=Actor("staff", staff.user.id))

    return _changed(request, session, staff, act, done="enabled" if active else "disabled", failed=staff_id, values={})


@router.post("/staff/{staff_id}/disable", response_class=HTMLResponse)
def disable_staff(request: Request, staff_id: str, staff: PostingStaffMayStaff, session: SessionDep) -> Response:
    return _set_active(request, session, staff, staff_id, False)


@router.post("/staff/{staff_id}/enable", response_class=HTMLResponse)
def enable_staff(request: Request, staff_id: str, staff: PostingStaffMayStaff, session: SessionDep) -> Response:
    return _set_active(request, session, staff, staff_id, True)
