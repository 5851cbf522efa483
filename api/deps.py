"""FastAPI dependencies: the session, settings, the current partner and the current staff user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from api.core import idempotency
from api.core.config import Settings
from api.core.db import read_only, session_scope
from api.core.errors import Unauthenticated
from api.core.pagination import MAX_LIMIT, SortOrder
from api.partners.keys import authenticate_key
from api.partners.models import ApiKey, Partner
from api.staff import permissions, service as staff_service
from api.staff.models import StaffSession, StaffUser

# A keyset listing's query parameters (api/core/pagination.py).
Cursor = Annotated[str | None, Query(description="From `next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work (`session_scope`, as jobs have): committed when the handler
    returns, rolled back if it raises."""
    with session_scope(request.app.state.engine) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for handlers that only read: deferred on SQLite (never waits for the write lock),
    read-only on both databases; its transaction is simply ended afterwards."""
    with Session(read_only(request.app.state.engine), expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
# scope="function": the commit happens before the response is sent, so a 2xx means committed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="A partner API key (`synd_...`; keys issued as `sk_live_...` before keep working until revoked).")
_bearer = HTTPBearer(auto_error=False, description="A staff access token from `POST /v1/staff/login`.")


class PartnerAuth:
    def __init__(self, partner: Partner, key: ApiKey) -> None:
        self.partner = partner
        self.key = key


def get_partner_auth(session: SessionDep, api_key: Annotated[str | None, Depends(_api_key_header)]) -> PartnerAuth:
    if not api_key:
        raise Unauthenticated("Send your API key in the X-API-Key header.")
    partner, key = authenticate_key(session, api_key)
    return PartnerAuth(partner, key)


def get_current_partner(auth: Annotated[PartnerAuth, Depends(get_partner_auth)]) -> Partner:
    return auth.partner


def get_optional_partner(session: SessionDep, api_key: Annotated[str | None, Depends(_api_key_header)]) -> Partner | None:
    """The caller's partner when it sends a key (a wrong key is still a 401), None when it sends none:
    for operations open to anyone, such as pricing on the public rate card."""
    return get_partner_auth(session, api_key).partner if api_key else None


CurrentPartnerAuth = Annotated[PartnerAuth, Depends(get_partner_auth)]
OptionalPartner = Annotated[Partner | None, Depends(get_optional_partner)]
CurrentPartner = Annotated[Partner, Depends(get_current_partner)]


class StaffAuth:
    def __init__(self, user: StaffUser, staff_session: StaffSession) -> None:
        self.user = user
        self.staff_session = staff_session
        self.session_id = staff_session.id


def get_staff_auth(
    session: SessionDep, settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffAuth:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Send a staff access token as `Authorization: Bearer <token>`.")
    user, staff_session = staff_service.authenticate(session, settings, credentials.credentials)
    return StaffAuth(user, staff_session)


CurrentStaffAuth = Annotated[StaffAuth, Depends(get_staff_auth)]


def staff_may(permission: str) -> Callable[..., StaffUser]:
    """The dependency behind `StaffMay`: a staff user whose roles grant `permission`, from the one
    table in api/staff/permissions.py (403 `/problems/role-required` otherwise). A change under a
    permission marked `reauthenticate`
    also wants the password typed recently (403 `/problems/reauthentication-required`)."""
    permissions.permission(permission)  # an unknown name fails at import, not on the first request

    def dependency(request: Request, auth: CurrentStaffAuth, settings: SettingsDep) -> StaffUser:
        permissions.require(auth.user, permission)
        if permissions.wants_recent_password(permission, request.method):
            staff_service.require_recent_password(auth.staff_session, settings)
        return auth.user

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the permission-matrix test
    return dependency


def StaffMay(permission: str) -> Any:  # noqa: N802 - reads as a type at runtime: `staff: StaffMay("invoices")`
    """A staff user whose roles grant `permission`. Every staff route names one; mypy cannot read a
    call as a type, so routes use the aliases below (`staff: StaffMayInvoices`)."""
    return Annotated[StaffUser, Depends(staff_may(permission))]


# One alias per permission of api/staff/permissions.py, readable as a type by mypy and FastAPI alike.
StaffMayArticles = Annotated[StaffUser, Depends(staff_may("articles"))]
StaffMayLicensing = Annotated[StaffUser, Depends(staff_may("licensing"))]
StaffMayPartners = Annotated[StaffUser, Depends(staff_may("partners"))]
StaffMayAudit = Annotated[StaffUser, Depends(staff_may("audit"))]
StaffMayPartnerDetails = Annotated[StaffUser, Depends(staff_may("partner-details"))]
StaffMayUsage = Annotated[StaffUser, Depends(staff_may("usage"))]
StaffMayInvoices = Annotated[StaffUser, Depends(staff_may("invoices"))]
StaffMayRevenue = Annotated[StaffUser, Depends(staff_may("revenue"))]
StaffMayStaff = Annotated[StaffUser, Depends(staff_may("staff"))]
StaffMayOutbox = Annotated[StaffUser, Depends(staff_may("outbox"))]
StaffMaySigningKeys = Annotated[StaffUser, Depends(staff_may("signing-keys"))]


def StaffWith(*roles: str) -> Any:  # noqa: N802
    """A staff user holding one of `roles` (admins hold every role). Prefer `StaffMay`: a route that
    checks roles directly is outside the permission table, and the permission-matrix test says so."""

    def dependency(auth: CurrentStaffAuth) -> StaffUser:
        staff_service.require_role(auth.user, roles)
        return auth.user

    return Annotated[StaffUser, Depends(dependency)]


# The `Idempotency-Key` header of every POST that creates money or licences, stated once.
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", description="Any unique string, e.g. a UUID: 1 to 255 printable ASCII characters.",
    # Documented, not enforced here: idempotency.claim answers a bad key with a 400 problem.
    json_schema_extra={"maxLength": idempotency.MAX_KEY_LENGTH, "minLength": 1, "pattern": idempotency.KEY_PATTERN})]


def sort_query(orders: dict[str, SortOrder]) -> Any:
    """The `sort` query parameter of a list whose orders are `orders` (a domain service's `*_ORDERS`,
    the same the console's tables offer): `Annotated[str, sort_query(INVOICE_ORDERS)] = "newest"`."""
    described = "; ".join(f"`{name}`: {order.label.lower()}" for name, order in orders.items())
    return Query(pattern=f"^({'|'.join(orders)})$", description=f"The order, keyed on its column and the id: {described}.")
