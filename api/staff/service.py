"""Staff accounts, logins and the short-lived tokens the staff API accepts."""

from __future__ import annotations

from datetime import timedelta

from anyio import to_thread
from jose import JWTError, jwt
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.audit import service as audit
from api.core.config import Settings
from api.core.db import read_only, utcnow
from api.core.pagination import keyset_page
from api.core.errors import Invalid, Unauthenticated
from api.core.passwords import hash_password, hash_password_async, needs_rehash, verify_password_async
from api.staff.models import ROLES, StaffSession, StaffUser
from api.staff.errors import BadCredentials, RoleRequired, StaffEmailTaken, StaffNotFound, UnknownRole

STAFF_AUDIENCE = "syndicate-staff"
STAFF_ALGORITHM = "HS256"


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
    try:
        with session.begin_nested():  # the unique e-mail decides a race the check above cannot see
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise StaffEmailTaken(f"{email} already has a staff account.") from exc
    audit.record(session, actor=actor or audit.Actor.system("cli"), action="staff.created", object_type="staff_user",
                 object_id=user.id, after={"email": email, "roles": user.roles})
    return user


def get_staff(session: Session, staff_id: str) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise StaffNotFound(f"No staff user {staff_id}.")
    return user


def list_staff(session: Session, *, cursor: str | None = None, limit: int = 50) -> tuple[list[StaffUser], str | None]:
    """By e-mail address, keyed on it (unique, so indexed): pass the returned cursor for the next page."""
    return keyset_page(session, select(StaffUser), columns=[StaffUser.email], kinds=[str],  # type: ignore[list-item]
                       cursor=cursor, limit=limit)


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


async def login(session: Session, settings: Settings, *, email: str, password: str) -> tuple[str, StaffSession, StaffUser]:
    """Check the password and open a staff session; returns (token, session, user).

    Async so that Argon2 runs in its own bounded threads (api.core.passwords) and waiting logins
    hold no thread. The account is looked up through a read-only connection that is closed before
    hashing starts, so no login holds a database transaction (on SQLite, the write lock) while it
    waits; only the short write at the end uses the caller's session.
    """
    found = await to_thread.run_sync(_find_user, session.get_bind(), email)
    valid = await verify_password_async(found.password_hash if found else None, password)
    if not valid or found is None or not found.active:
        raise BadCredentials("E-mail or password is wrong, or the account is disabled.")
    new_hash = await hash_password_async(password) if needs_rehash(found.password_hash) else None
    return await to_thread.run_sync(_open_session, session, settings, found.id, new_hash)


def _find_user(engine: Engine, email: str) -> StaffUser | None:
    with Session(read_only(engine)) as lookup:
        return lookup.exec(select(StaffUser).where(StaffUser.email == email.strip().lower())).first()


def _open_session(session: Session, settings: Settings, user_id: str,
                  new_hash: str | None) -> tuple[str, StaffSession, StaffUser]:
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:  # disabled while its password was being checked
        raise BadCredentials("E-mail or password is wrong, or the account is disabled.")
    if new_hash:
        user.password_hash = new_hash
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
