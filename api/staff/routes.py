from __future__ import annotations

from fastapi import APIRouter, status

from api.audit.service import Actor
from api.core.problems import error_responses
from api.deps import CurrentStaffAuth, SessionDep, SettingsDep, StaffWith
from api.staff import service
from api.staff.schemas import StaffCreate, StaffLogin, StaffRead, StaffToken, StaffUpdate

router = APIRouter(prefix="/v1/staff", tags=["staff"])
Admin = StaffWith("admin")


@router.post("/login", response_model=StaffToken, summary="Log in as staff",
             responses=error_responses(service.BadCredentials))
def login(body: StaffLogin, session: SessionDep, settings: SettingsDep) -> StaffToken:
    token, staff_session, _user = service.login(session, settings, email=body.email, password=body.password)
    return StaffToken(access_token=token, expires_at=staff_session.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this staff session")
def logout(auth: CurrentStaffAuth, session: SessionDep) -> None:
    service.logout(session, auth.session_id)


@router.get("/me", response_model=StaffRead, summary="The logged-in staff user")
def me(auth: CurrentStaffAuth) -> StaffRead:
    return StaffRead.model_validate(auth.user)


@router.get("/users", response_model=list[StaffRead], summary="List staff users")
def list_users(session: SessionDep, admin: Admin) -> list[StaffRead]:
    return [StaffRead.model_validate(u) for u in service.list_staff(session)]


@router.post("/users", response_model=StaffRead, status_code=status.HTTP_201_CREATED, summary="Create a staff user",
             responses=error_responses(service.StaffEmailTaken, service.UnknownRole))
def create_user(body: StaffCreate, session: SessionDep, admin: Admin) -> StaffRead:
    user = service.create_staff(session, email=body.email, name=body.name, password=body.password,
                                roles=body.roles, actor=Actor("staff", admin.id))
    return StaffRead.model_validate(user)


@router.patch("/users/{staff_id}", response_model=StaffRead, summary="Change a staff user's roles",
              responses=error_responses(service.UnknownRole))
def update_user(staff_id: str, body: StaffUpdate, session: SessionDep, admin: Admin) -> StaffRead:
    user = service.update_roles(session, staff_id, roles=body.roles, active=body.active, actor=Actor("staff", admin.id))
    return StaffRead.model_validate(user)
