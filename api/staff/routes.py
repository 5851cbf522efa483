from __future__ import annotations

from typing import Annotated

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, status

from api.audit.service import Actor
from api.core.errors import BadCursor, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, page_example
from api.core.problems import error_responses
from api.deps import CurrentStaffAuth, SessionDep, SettingsDep, StaffMayStaff, sort_query
from api.staff import service
from api.staff.deps import limit_logins
from api.staff.schemas import (
    STAFF_READ_EXAMPLE, StaffCreate, StaffLogin, StaffPasswordChange, StaffRead, StaffReauthenticate, StaffReauthenticated, StaffToken,
    StaffUpdate,
)
from api.staff.errors import (
    BadCredentials, LoginRateLimited, PasswordRejected, ReauthenticationRequired, RoleRequired, StaffEmailTaken,
    StaffNotFound, StaffSessionExpired, TooManyFailedLogins, UnknownRole, WrongPassword,
)
from api.staff.throttle import LoginThrottle

router = APIRouter(prefix="/v1/staff", tags=["staff"])
Admin = StaffMayStaff
AUTH_ERRORS = (Unauthenticated, StaffSessionExpired)
ADMIN_ERRORS = (Unauthenticated, StaffSessionExpired, RoleRequired, ReauthenticationRequired)


Throttle = Annotated[LoginThrottle, Depends(limit_logins)]


@router.post("/login", response_model=StaffToken, summary="Log in as staff",
             description="Returns a bearer token for the staff API. Its session ends after "
                         "`SYNDICATE_STAFF_SESSION_IDLE_MINUTES` (30) without a request (each request renews it) and "
                         "at `expires_at` in any case (`SYNDICATE_STAFF_SESSION_ABSOLUTE_HOURS`, 12); then 401 "
                         "`/problems/session-expired`. Attempts are limited per client address "
                         "(`SYNDICATE_LOGIN_RATE_LIMIT`) and failures per e-mail address, from wherever they come "
                         "(`SYNDICATE_LOGIN_ACCOUNT_RATE_LIMIT`, 5 in 15 minutes); past either the answer is 429 "
                         "with Retry-After, for unknown addresses alike.",
             responses=error_responses(BadCredentials, LoginRateLimited, TooManyFailedLogins, PasswordRejected,
                                       ValidationFailed))
async def login(body: StaffLogin, session: SessionDep, settings: SettingsDep, throttle: Throttle) -> StaffToken:
    token, staff_session, _user = await service.login(session, settings, email=body.email, password=body.password,
                                                      throttle=throttle)
    return StaffToken(access_token=token, expires_at=staff_session.expires_at)


@router.post("/reauthenticate", response_model=StaffReauthenticated, summary="Confirm your password for admin actions",
             description="Admin changes (staff accounts, signing keys, outbox retries) want the password typed within "
                         "`SYNDICATE_STAFF_REAUTHENTICATE_MINUTES` (5); otherwise they answer 403 "
                         "`/problems/reauthentication-required`. Send the password here, then retry with the same "
                         "token. Failures count towards the account's log-in limit; audited.",
             responses=error_responses(WrongPassword, TooManyFailedLogins, PasswordRejected, ValidationFailed,
                                       *AUTH_ERRORS))
async def reauthenticate(body: StaffReauthenticate, auth: CurrentStaffAuth, session: SessionDep,
                         settings: SettingsDep, throttle: Throttle) -> StaffReauthenticated:
    staff_session = await service.reauthenticate(session, settings, user=auth.user, staff_session_id=auth.session_id,
                                                 password=body.password, throttle=throttle)
    return StaffReauthenticated(
        confirmed_until=staff_session.password_at + timedelta(minutes=settings.staff_reauthenticate_minutes))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this staff session",
             responses=error_responses(*AUTH_ERRORS))
def logout(auth: CurrentStaffAuth, session: SessionDep) -> None:
    service.logout(session, auth.session_id)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, summary="Change your own password",
             description="Needs the current password (failures count towards the account's log-in limit). The new "
                         "one has 12 to 128 characters and must not be easy to guess. Every other session of the "
                         "account ends; this one goes on. Audited.",
             responses=error_responses(WrongPassword, PasswordRejected, TooManyFailedLogins, ValidationFailed,
                                       *AUTH_ERRORS))
async def change_password(body: StaffPasswordChange, auth: CurrentStaffAuth, session: SessionDep,
                          settings: SettingsDep, throttle: Throttle) -> None:
    await service.change_password(session, settings, user=auth.user, staff_session_id=auth.session_id,
                                  current_password=body.current_password, new_password=body.new_password,
                                  throttle=throttle)


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
    sort: Annotated[str, sort_query(service.STAFF_ORDERS)] = "email",
) -> Page[StaffRead]:
    rows, next_cursor = service.list_staff(session, sort=sort, cursor=cursor, limit=limit)
    return Page[StaffRead](items=[StaffRead.model_validate(u) for u in rows], next_cursor=next_cursor)


@router.post("/users", response_model=StaffRead, status_code=status.HTTP_201_CREATED, summary="Create a staff user",
             responses=error_responses(StaffEmailTaken, UnknownRole, PasswordRejected, ValidationFailed,
                                       *ADMIN_ERRORS))
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
