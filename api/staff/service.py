"""Staff accounts, logins, and the sessions behind the console's cookie and the staff API's tokens.

A staff session ends `staff_session_idle_minutes` after its last request (each request renews it)
and in any case `staff_session_absolute_hours` after its login; the token's own `exp` is that
absolute end. Admin actions also want the password typed within `staff_reauthenticate_minutes`
(`require_recent_password`, `reauthenticate`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from anyio import to_thread
from jose import ExpiredSignatureError, JWTError, jwt
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.config import Settings
from api.core.db import read_only, utcnow
from api.core.pagination import SortOrder, contains_text, sorted_page
from api.core.errors import Unauthenticated
from api.core.passwords import hash_password, hash_password_async, needs_rehash, verify_password_async
from api.staff.models import ROLES, StaffSession, StaffUser
from api.staff.errors import (
    BadCredentials, ReauthenticationRequired, RoleRequired, StaffEmailTaken, StaffNotFound, StaffSessionExpired,
    UnknownRole, WrongPassword,
)
from api.staff.passwords import check_length, check_new_password
from api.staff.throttle import LoginThrottle

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
    check_new_password(password, email=email, name=name)
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


STAFF_ORDERS = {
    "email": SortOrder("By e-mail address", [StaffUser.email], [str]),  # type: ignore[list-item]  # unique: its own tiebreak
    "name": SortOrder("By name", [StaffUser.name, StaffUser.id], [str, str]),  # type: ignore[list-item]
}


def list_staff(session: Session, *, text: str | None = None, active: bool | None = None, sort: str = "email",
               cursor: str | None = None, limit: int = 50) -> tuple[list[StaffUser], str | None]:
    """By e-mail address (unique, so indexed) or by name; `text` keeps accounts whose name or
    address contains it; `active` only enabled (True) or disabled (False) ones."""
    stmt = select(StaffUser)
    if text and text.strip():
        stmt = stmt.where(contains_text([StaffUser.name, StaffUser.email], text))
    if active is not None:
        stmt = stmt.where(StaffUser.active == active)
    return sorted_page(session, stmt, STAFF_ORDERS, sort, cursor=cursor, limit=limit)


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


async def login(session: Session, settings: Settings, *, email: str, password: str,
                throttle: LoginThrottle | None = None) -> tuple[str, StaffSession, StaffUser]:
    """Check the password and open a staff session; returns (token, session, user).

    Async so that Argon2 runs in its own bounded threads (api.core.passwords) and waiting logins
    hold no thread. The account is looked up through a read-only connection that is closed before
    hashing starts, so no login holds a database transaction (on SQLite, the write lock) while it
    waits; only the short write at the end uses the caller's session. With a `throttle`, an e-mail
    address past its failures is refused before any hashing, and each failure is counted.
    """
    check_length(password)  # a megabyte "password" is refused, not hashed
    if throttle:
        await to_thread.run_sync(throttle.before_password, email)
    found = await to_thread.run_sync(_find_user, session.get_bind().engine, email)
    valid = await verify_password_async(found.password_hash if found else None, password)
    if not valid or found is None or not found.active:
        if throttle:
            await to_thread.run_sync(throttle.failed, email)
        raise BadCredentials("E-mail or password is wrong, or the account is disabled.")
    new_hash = await hash_password_async(password) if needs_rehash(found.password_hash) else None
    opened = await to_thread.run_sync(_open_session, session, settings, found.id, new_hash)
    if throttle:
        await to_thread.run_sync(throttle.succeeded, email)
    return opened


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
    staff_session = StaffSession(staff_id=user.id, created_at=now, last_seen_at=now, password_at=now,
                                 expires_at=now + timedelta(hours=settings.staff_session_absolute_hours))
    user.last_login_at = now
    session.add_all([user, staff_session])
    session.flush()
    claims = {
        "iss": settings.jwt_issuer, "aud": STAFF_AUDIENCE, "sub": user.id, "sid": staff_session.id,
        "roles": user.roles, "iat": int(now.timestamp()), "exp": int(staff_session.expires_at.timestamp()),
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=STAFF_ALGORITHM)
    return token, staff_session, user


def authenticate(session: Session, settings: Settings, token: str,
                 now: datetime | None = None) -> tuple[StaffUser, StaffSession]:
    """Return the staff user and the login session the token belongs to, renewing the session's idle
    timeout. Raises StaffSessionExpired (401) once it has ended, saying why (`reason`)."""
    try:
        claims = jwt.decode(
            token, settings.secret_key.get_secret_value(), algorithms=[STAFF_ALGORITHM],
            audience=STAFF_AUDIENCE, issuer=settings.jwt_issuer,
            options={"require_aud": True, "require_iss": True, "require_exp": True, "require_sub": True},
        )
    except ExpiredSignatureError as exc:
        raise StaffSessionExpired(_lifetime_over(settings), reason="lifetime") from exc
    except JWTError as exc:
        raise Unauthenticated("The staff token is invalid or expired; log in again.") from exc
    now = now or utcnow()
    staff_session = session.get(StaffSession, claims.get("sid", ""))
    if staff_session is None or staff_session.revoked_at is not None:
        raise StaffSessionExpired("This staff session has ended (logged out); log in again.", reason="ended")
    if staff_session.expires_at <= now:
        raise StaffSessionExpired(_lifetime_over(settings), reason="lifetime")
    idle = timedelta(minutes=settings.staff_session_idle_minutes)
    if staff_session.last_seen_at + idle <= now:
        raise StaffSessionExpired(
            f"You were signed out after {settings.staff_session_idle_minutes} minutes without activity. Log in again.",
            reason="idle")
    user = session.get(StaffUser, claims["sub"])
    if user is None or not user.active:
        raise StaffSessionExpired("This staff account is disabled.", reason="disabled")
    # Renewed at most once a minute (a tenth of the idle timeout if shorter): not a write per request.
    if now - staff_session.last_seen_at >= min(timedelta(minutes=1), idle / 10):
        staff_session.last_seen_at = now
        session.add(staff_session)
        session.flush()
    return user, staff_session


def _lifetime_over(settings: Settings) -> str:
    return (f"You were signed out: a staff session lasts at most {settings.staff_session_absolute_hours} hours after "
            "logging in. Log in again.")


def require_recent_password(staff_session: StaffSession, settings: Settings, now: datetime | None = None) -> None:
    """Raise ReauthenticationRequired (403) unless the password was typed within `staff_reauthenticate_minutes`."""
    minutes = settings.staff_reauthenticate_minutes
    if staff_session.password_at + timedelta(minutes=minutes) <= (now or utcnow()):
        raise ReauthenticationRequired(
            f"This admin action needs your password typed within the last {minutes} minutes: send it to "
            "POST /v1/staff/reauthenticate, then retry.", reauthenticate="/v1/staff/reauthenticate",
            within_minutes=minutes)


async def _check_own_password(user: StaffUser, password: str, throttle: LoginThrottle | None, *, wrong: str) -> None:
    """WrongPassword (saying `wrong`) unless `password` is the signed-in user's own; a wrong one
    counts towards the account's log-in limit, as a failed log-in does."""
    check_length(password)
    if throttle:
        await to_thread.run_sync(throttle.before_password, user.email)
    if not await verify_password_async(user.password_hash, password):
        if throttle:
            await to_thread.run_sync(throttle.failed, user.email)
        raise WrongPassword(wrong)


async def reauthenticate(session: Session, settings: Settings, *, user: StaffUser, staff_session_id: str,
                         password: str, throttle: LoginThrottle | None = None) -> StaffSession:
    """Confirm the signed-in user's password for the admin actions of the next few minutes; audited.
    Failures count towards the account's log-in limit, so a stolen session cannot guess the password."""
    await _check_own_password(user, password, throttle,
                              wrong="That is not the password of the account you are signed in with.")
    return await to_thread.run_sync(_confirm_password, session, user.id, staff_session_id)


def _confirm_password(session: Session, user_id: str, staff_session_id: str) -> StaffSession:
    staff_session = session.get(StaffSession, staff_session_id)
    if staff_session is None or staff_session.staff_id != user_id:
        raise StaffSessionExpired("This staff session has ended (logged out); log in again.", reason="ended")
    staff_session.password_at = utcnow()
    session.add(staff_session)
    session.flush()
    audit.record(session, actor=audit.Actor("staff", user_id), action="staff.reauthenticated",
                 object_type="staff_user", object_id=user_id, after={"session": staff_session_id})
    return staff_session


async def change_password(session: Session, settings: Settings, *, user: StaffUser, staff_session_id: str,
                          current_password: str, new_password: str, throttle: LoginThrottle | None = None) -> None:
    """Set a new password after checking the current one (a wrong one counts towards the account's
    log-in limit) and the new one's strength; every other session of the account ends. Audited."""
    await _check_own_password(user, current_password, throttle, wrong="The current password is wrong.")
    check_new_password(new_password, email=user.email, name=user.name)
    new_hash = await hash_password_async(new_password)
    await to_thread.run_sync(_store_password, session, user.id, staff_session_id, new_hash)


def _store_password(session: Session, user_id: str, staff_session_id: str, new_hash: str) -> None:
    user = get_staff(session, user_id)
    user.password_hash = new_hash
    now = utcnow()
    others = session.exec(select(StaffSession).where(StaffSession.staff_id == user_id,
                                                     StaffSession.id != staff_session_id,
                                                     col(StaffSession.revoked_at).is_(None))).all()
    for other in others:
        other.revoked_at = now
    this = session.get(StaffSession, staff_session_id)
    if this is not None:
        this.password_at = now
    session.add_all([user, *others, *([this] if this else [])])
    session.flush()
    audit.record(session, actor=audit.Actor("staff", user_id), action="staff.password_changed",
                 object_type="staff_user", object_id=user_id, after={"other_sessions_ended": len(others)})


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
