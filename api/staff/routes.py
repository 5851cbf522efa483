from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api.audit.service import Actor
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, page_example
from api.core.problems import error_responses
from api.deps import CurrentStaffAuth, SessionDep, SettingsDep, StaffMayStaff
from api.staff import service
from api.staff.deps import limit_logins
from api.staff.schemas import STAFF_READ_EXAMPLE, StaffCreate, StaffLogin, StaffRead, StaffToken, StaffUpdate
from api.staff.errors import BadCredentials, LoginRateLimited, RoleRequired, StaffEmailTaken, StaffNotFound, UnknownRole

router = APIRouter(prefix="/v1/staff", tags=["staff"])
Admin = StaffMayStaff
AUTH_ERRORS = (Unauthenticated,)
ADMIN_ERRORS = (Unauthenticated, RoleRequired)


LoginThrottle = Depends(limit_logins)


@router.post("/login", response_model=StaffToken, summary="Log in as staff", dependencies=[LoginThrottle],
             description="Returns a short-lived bearer token for the staff API. Attempts are limited per client "
                         "address (`SYNDICATE_LOGIN_RATE_LIMIT`); past the limit the answer is 429 with Retry-After.",
             responses=error_responses(BadCredentials, LoginRateLimited, ValidationFailed))
async def login(body: StaffLogin, session: SessionDep, settings: SettingsDep) -> StaffToken:
    token, staff_session, _user = await service.login(session, settings, email=body.email, password=body.password)
    return StaffToken(access_token=token, expires_at=staff_session.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this staff session",
             responses=error_responses(*AUTH_ERRORS))
def logout(auth: CurrentStaffAuth, session: SessionDep) -> None:
    service.logout(session, auth.session_id)


@router.get("/me", response_model=StaffRead, summary="The logged-in staff user", responses=error_responses(*AUTH_ERRORS))
def me(auth: CurrentStaffAuth) -> StaffRead:
    return StaffRead.model_validate(auth.user)


@router.get("/users", response_model=Page[StaffRead], summary="List staff users",
            description="Admins only. By e-mail address; pass `next_cursor` back as `cursor` for the next page.",
            responses={**page_example(STAFF_READ_EXAMPLE), **error_responses(*ADMIN_ERRORS, BadCursor, ValidationFailed)})
def list_users(
    session: SessionDep, admin: Admin,
    cursor: Annotated[str | None, Query(description="`next_cursor` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
) -> Page[StaffRead]:
    rows, next_cursor = service.list_staff(session, cursor=cursor, limit=limit)
    return Page[StaffRead](items=[StaffRead.model_validate(u) for u in rows], next_cursor=next_cursor)


@router.post("/users", response_model=StaffRead, status_code=status.HTTP_201_CREATED, summary="Create a staff user",
             responses=error_responses(StaffEmailTaken, UnknownRole, ValidationFailed, *ADMIN_ERRORS))
def create_user(body: StaffCreate, session: SessionDep, admin: Admin) -> StaffRead:
    user = service.create_staff(session, email=body.email, name=body.name, password=body.password,
                                roles=body.roles, actor=Actor("staff", admin.id))
    return StaffRead.model_validate(user)


@router.patch("/users/{staff_id}", response_model=StaffRead, summary="Change a staff user's roles",
              description="Admins only. Set `active: false` to disable an account: its tokens stop working at once.",
              responses=error_responses(StaffNotFound, UnknownRole, ValidationFailed, *ADMIN_ERRORS))
def update_user(staff_id: str, body: StaffUpdate, session: SessionDep, admin: Admin) -> StaffRead:
    user = service.update_roles(session, staff_id, roles=body.roles, active=body.active, actor=Actor("staff", admin.id))
    return StaffRead.model_validate(user)
