"""The partners domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound, TooManyRequests


class RegistrationRateLimited(TooManyRequests):
    """Too many partner registrations from this address; wait for the seconds in `Retry-After`, then retry."""

    slug = "registration-rate-limited"
    title = "Too many registrations from this address"


class ApiKeyNotFound(NotFound):
    """No API key with that id on your account; list your keys to find it."""

    slug = "api-key-not-found"
    title = "No such API key"


class TooManyApiKeys(Conflict):
    """The account already holds the most active API keys allowed; revoke one you no longer use first."""

    slug = "too-many-api-keys"
    title = "Too many active API keys"


class LastApiKey(Conflict):
    """This is your account's last active API key; create another before revoking it, or you could not sign in again.
    """

    slug = "last-api-key"
    title = "This is the account's last active API key"


class PartnerNotFound(NotFound):
    """No partner with that id; list the partners to find it."""

    slug = "partner-not-found"
    title = "No such partner"


class ContactNotFound(NotFound):
    """No contact with that id on your account; list your contacts to find it."""

    slug = "contact-not-found"
    title = "No such contact"


class ContactEmailTaken(Conflict):
    """That e-mail address is already a contact on this account; update that contact instead."""

    slug = "contact-email-taken"
    title = "A contact with that e-mail exists"


class UnknownCountry(Invalid):
    """The country is not an ISO 3166-1 alpha-2 code; use two letters such as GB, FR or AE."""

    slug = "unknown-country"
    title = "Unknown country code"


class UnknownCurrency(Invalid):
    """The currency is not an ISO 4217 code; use three letters such as GBP, EUR or USD."""

    slug = "unknown-currency"
    title = "Unknown currency code"
