"""Staff accounts, logins and the short-lived tokens the staff API accepts."""

from __future__ import annotations

from datetime import timedelta

from jose import JWTError, jwt
from sqlmodel import Session, select

from api.audit import service as audit
from api.core.config import Settings
from api.core.db import utcnow
from api.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from api.core.passwords import hash_password, needs_rehash, verify_password
from api.staff.models import ROLES, StaffSession, StaffUser

STAFF_AUDIENCE = "syndicate-staff"
STAFF_ALGORITHM = "HS256"


class BadCredentials(Unauthenticated):
    slug = "bad-credentials"
    title = "E-mail or password is wrong"


class StaffEmailTaken(Conflict):
    slug = "staff-email-taken"
    title = "A staff account with that e-mail exists"


class UnknownRole(Invalid):
    slug = "unknown-role"
    title = "Unknown staff role"


class RoleRequired(Forbidden):
    slug = "role-required"
    title = "Your staff role does not allow this"


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise UnknownRole(f"Unknown role(s): {', '.join(unknown)}; choose from {', '.join(ROLES)}.")
    if not roles:
        raise UnknownRole(f"Give at least one role from {', '.join(ROLES)}.")
    return sorted(set(roles))


def create_staff(session: Session, *, email: str, name: str, password: str, roles: list[str], actor: audit.Actor | None = None) -> StaffUser:
    email = email.strip().lower()
    if session.exec(select(StaffUser).where(StaffUser.email == email)).first():
        raise StaffEmailTaken(f"{email} already has a staff account.")
    if len(password) < 12:
        raise Invalid("A staff password needs at least 12 characters.")
    user = StaffUser(email=email, name=name, password_hash=hash_password(password), roles=_check_roles(roles))
    session.add(user)
    session.flush()
    audit.record(session, actor=actor or audit.Actor.system("cli"), action="staff.created", object_type="staff_user",
                 object_id=user.id, after={"email": email, "roles": user.roles})
    return user


def get_staff(session: Session, staff_id: str) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No staff user {staff_id}.")
    return user


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(StaffUser.email)).all())


def update_roles(session: Session, staff_id: str, *, roles: list[str], active: bool | None, actor: audit.Actor) -> StaffUser:
    user = get_staff(session, staff_id)
    before = {"roles": user.roles, "active": user.active}
    user.roles = _check_roles(roles)
    if active is not None:
        user.active = active
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="staff.updated", object_type="staff_user", object_id=user.id,
                 before=before, after={"roles": user.roles, "active": user.active})
    return user


def login(session: Session, settings: Settings, *, email: str, password: str) -> tuple[str, StaffSession, StaffUser]:
    user = session.exec(select(StaffUser).where(StaffUser.email == email.strip().lower())).first()
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        raise BadCredentials("E-mail or password is wrong, or the account is disabled.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    now = utcnow()
    staff_session = StaffSession(staff_id=user.id, expires_at=now + timedelta(minutes=settings.staff_token_minutes))
    user.last_login_at = now
    session.add_all([user, staff_session])
    session.flush()
    claims = {
        "iss": settings.jwt_issuer, "aud": STAFF_AUDIENCE, "sub": user.id, "sid": staff_session.id,
        "roles": user.roles, "iat": int(now.timestamp()), "exp": int(staff_session.expires_at.timestamp()),
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=STAFF_ALGORITHM)
    return token, staff_session, user


def authenticate(session: Session, settings: Settings, token: str) -> tuple[StaffUser, str]:
    """Return the staff user and the id of the login session the token belongs to."""
    try:
        claims = jwt.decode(
            token, settings.secret_key.get_secret_value(), algorithms=[STAFF_ALGORITHM],
            audience=STAFF_AUDIENCE, issuer=settings.jwt_issuer,
            options={"require_aud": True, "require_iss": True, "require_exp": True, "require_sub": True},
        )
    except JWTError as exc:
        raise Unauthenticated("The staff token is invalid or expired; log in again.") from exc
    staff_session = session.get(StaffSession, claims.get("sid", ""))
    if staff_session is None or staff_session.revoked_at is not None or staff_session.expires_at <= utcnow():
        raise Unauthenticated("This staff session has ended; log in again.")
    user = session.get(StaffUser, claims["sub"])
    if user is None or not user.active:
        raise Unauthenticated("This staff account is disabled.")
    return user, staff_session.id


def logout(session: Session, staff_session_id: str) -> None:
    staff_session = session.get(StaffSession, staff_session_id)
    if staff_session and staff_session.revoked_at is None:
        staff_session.revoked_at = utcnow()
        session.add(staff_session)
        session.flush()


def require_role(user: StaffUser, roles: tuple[str, ...]) -> None:
    """`admin` may do anything; otherwise one of `roles` is needed."""
    if "admin" in user.roles or set(roles) & set(user.roles):
        return
    raise RoleRequired(f"This needs one of the staff roles: {', '.join(roles)}.")
