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


class TooManyFailedLogins(TooManyRequests):
    """Too many failed log-ins (or re-authentications) for this e-mail address, from wherever they came; wait for the
    seconds in `Retry-After`, then retry, or ask an admin. Said for any address, known or not."""

    slug = "too-many-failed-logins"
    title = "Too many failed log-ins for this account"


class StaffSessionExpired(Unauthenticated):
    """The staff session ended: too long without activity, past its absolute lifetime, logged out, or the account was
    disabled; `detail` says which. Log in again."""

    slug = "session-expired"
    title = "The staff session has ended"


class ReauthenticationRequired(Forbidden):
    """This admin action needs the password typed within the last few minutes (`within_minutes`); send it to
    `POST /v1/staff/reauthenticate` (`reauthenticate`) and retry the action with the same token."""

    slug = "reauthentication-required"
    title = "Confirm your password first"


class WrongPassword(Forbidden):
    """The password given to confirm an admin action is not this account's; type it again (failures count towards the
    account's log-in limit)."""

    slug = "wrong-password"
    title = "That is not your password"


class PasswordRejected(Invalid):
    """A new staff password is too short, longer than 128 characters, or too easy to guess (a common or breached
    password, or one built from the account's name or e-mail); `detail` says which. Choose another."""

    slug = "password-rejected"
    title = "The password is not accepted"
