"""The staff domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthenticated


class BadCredentials(Unauthenticated):
    """The e-mail or password is wrong, or the staff account is disabled; check them and log in again."""

    slug = "bad-credentials"
    title = "E-mail or password is wrong"


class StaffEmailTaken(Conflict):
    """That e-mail address already has a staff account."""

    slug = "staff-email-taken"
    title = "A staff account with that e-mail exists"


class UnknownRole(Invalid):
    """A role is unknown, or none was given; `detail` lists the roles to choose from."""

    slug = "unknown-role"
    title = "Unknown staff role"


class LoginRateLimited(TooManyRequests):
    """Too many staff log-in attempts from this address; wait for the seconds in `Retry-After`, then retry."""

    slug = "login-rate-limited"
    title = "Too many login attempts from this address"


class StaffNotFound(NotFound):
    """No staff user with that id; list the staff to find them."""

    slug = "staff-not-found"
    title = "No such staff user"


class RoleRequired(Forbidden):
    """Your staff roles do not include the permission this action needs; `detail` names the roles that have it.
    """

    slug = "role-required"
    title = "Your staff role does not allow this"
