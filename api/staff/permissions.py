"""Who on the staff may do what: the one table of permissions, each granted to the roles whose work
needs it (least privilege). Admins hold every permission.

Every staff operation names exactly one permission: API routes with `StaffMay("...")` or its alias `StaffMayInvoices` (api/deps.py),
console pages with `ConsoleStaffMay("...")` / `PostingStaffMay("...")` (api/console/deps.py).
tests/staff/test_permissions.py walks the app's routes, so an operation without one fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.staff.models import ROLES, StaffUser
from api.staff.errors import RoleRequired


@dataclass(frozen=True)
class Permission:
    roles: tuple[str, ...]  # besides admin
    covers: str  # what it lets staff do, for refusals and the README
    # Its changes (any method but GET/HEAD) want the password typed within `staff_reauthenticate_minutes`:
    # a session left open, or a stolen token, cannot create staff, retire keys or re-send provider calls.
    reauthenticate: bool = False


PERMISSIONS: dict[str, Permission] = {
    # editors: the catalogue, and nothing about partners, money or the audit log
    "articles": Permission(("editor",), "create, import, read, correct and withdraw articles"),
    # the licensing desk
    "licensing": Permission(("licensing",), "decide licence requests and manage licences, the rate card and auto-approval rules"),
    "partners": Permission(("licensing",), "register, verify and suspend partners and see and issue their API keys"),
    "audit": Permission(("licensing",), "read the audit log"),
    # both desks: finance bills partners, licensing deals with them
    "partner-details": Permission(("licensing", "finance"), "read partners and their billing details"),
    "usage": Permission(("licensing", "finance"), "read usage reports"),
    # finance
    "invoices": Permission(("finance",), "manage invoices, payments and billing runs"),
    "revenue": Permission(("finance",), "read revenue reports"),
    # admins only
    "staff": Permission((), "manage staff accounts", reauthenticate=True),
    "outbox": Permission((), "see and retry outgoing messages", reauthenticate=True),  # retries re-send charges
    "signing-keys": Permission((), "retire licence-token signing keys", reauthenticate=True),
}

assert all(set(p.roles) <= set(ROLES) for p in PERMISSIONS.values()), "a permission names an unknown role"


def permission(name: str) -> Permission:
    """The named permission; an unknown name fails when the route is declared, not when it is called."""
    try:
        return PERMISSIONS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a staff permission; pick one of {', '.join(PERMISSIONS)} "
                       "(api/staff/permissions.py)") from None


def allows(user: StaffUser, name: str) -> bool:
    return "admin" in user.roles or bool(set(permission(name).roles) & set(user.roles))


def require(user: StaffUser, name: str) -> None:
    """Raise RoleRequired (403, `/problems/role-required`) unless the user's roles grant `name`."""
    if not allows(user, name):
        grant = permission(name)
        who = " or ".join((*grant.roles, "admin"))
        raise RoleRequired(f"Only {who} staff may {grant.covers} (permission `{name}`).", permission=name,
                           roles=[*grant.roles, "admin"])


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wants_recent_password(name: str, method: str) -> bool:
    """Whether a request with `method` under permission `name` needs the password typed recently."""
    return permission(name).reauthenticate and method.upper() not in SAFE_METHODS


def roles_allowed(name: str) -> set[str]:
    """Every role that holds `name` (admin included)."""
    return {*permission(name).roles, "admin"}
