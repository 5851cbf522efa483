"""Domain errors. Each kind has a stable problem `type`; HTTP mapping lives in api.core.problems."""

from __future__ import annotations

from typing import Any, ClassVar


class SyndicateError(Exception):
    """Base of every error a service raises on purpose."""

    slug: ClassVar[str] = "error"
    title: ClassVar[str] = "Something went wrong"
    status: ClassVar[int] = 500
    registry: ClassVar[dict[str, type[SyndicateError]]] = {}

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "slug" in cls.__dict__:
            SyndicateError.registry[cls.slug] = cls

    @classmethod
    def type_uri(cls) -> str:
        return f"/problems/{cls.slug}"


class NotFound(SyndicateError):
    """The thing the URL names does not exist (or is not yours to see); check the id or path."""

    slug = "not-found"
    title = "Not found"
    status = 404


class Conflict(SyndicateError):
    """The request clashes with the resource's current state; reload it and decide again."""

    slug = "conflict"
    title = "Conflict with the current state"
    status = 409


class Invalid(SyndicateError):
    """A value in the request breaks a rule; `detail` names it and how to fix it, then send the request again."""

    slug = "invalid"
    title = "The request is not valid"
    status = 422


class Unauthenticated(SyndicateError):
    """No valid credentials came with the request: send your API key in `X-API-Key` (partners) or a staff token as
    `Authorization: Bearer` (staff); log in again if it expired.
    """

    slug = "unauthenticated"
    title = "Authentication required"
    status = 401


class Forbidden(SyndicateError):
    """You are signed in, but this action is not yours to take; ask someone with the right role or account."""

    slug = "forbidden"
    title = "Not allowed"
    status = 403


class Gone(SyndicateError):
    """The resource existed but has been removed for good; do not retry."""

    slug = "gone"
    title = "No longer available"
    status = 410


class TooManyRequests(SyndicateError):
    """Too many requests in a short time; wait for the seconds in `Retry-After`, then retry."""

    slug = "rate-limited"
    title = "Too many requests"
    status = 429


class ServiceUnavailable(SyndicateError):
    """The service cannot answer right now; retry after a short wait."""

    slug = "unavailable"
    title = "Service unavailable"
    status = 503


class ValidationFailed(SyndicateError):
    """The body, query or path parameters did not match the schema; `errors` names each field and what is wrong
    with it. Fix those and send the request again."""

    slug = "validation"
    title = "The request did not validate"
    status = 422


class BadCursor(Invalid):
    """The pagination `cursor` is malformed or belongs to another listing; start the listing again without it."""

    slug = "bad-cursor"
    title = "The pagination cursor is not valid"


class IdempotencyKeyReused(Invalid):
    """The Idempotency-Key was already used with a different request body; send a new key for a new request.
    (422, as the IETF Idempotency-Key draft and Stripe answer.)"""

    slug = "idempotency-key-reused"
    title = "Idempotency-Key was already used with a different request"


class InvalidStateTransition(Conflict):
    """The object's current state does not allow the requested change; `current_state` and `detail` say which next
    states are allowed. Reload it first.
    """

    slug = "invalid-transition"
    title = "That transition is not allowed from the current state"


class Unmigrated(ServiceUnavailable):
    """The database is reachable but not at the migration this code needs; nothing was run. The operator runs
    `syndicate db upgrade`; clients retry later."""

    slug = "database-unmigrated"
    title = "The database schema is not at the current migration"


class DatabaseUnreachable(ServiceUnavailable):
    """The service cannot open a connection to its database, or the database refused the probe; nothing was run.
    Retry later."""

    slug = "database-unreachable"
    title = "Database unreachable"


class Starting(ServiceUnavailable):
    """The server has just started and is still starting its background work (the in-process worker, the cache
    preload); it will be ready in a moment. Retry after `Retry-After` seconds."""

    slug = "starting"
    title = "The service is starting"


class InvalidData(Invalid):
    """The database refused a value the request carried (a NUL character in text, a number out of range); nothing
    was stored. Remove or correct that value and send again."""

    slug = "invalid-data"
    title = "A value in the request cannot be stored or compared"


# --- problems the HTTP layer itself answers with (routing, content negotiation, body limits) ---


class BadRequest(SyndicateError):
    """The request could not be read (malformed syntax, a bad header); `detail` says what, fix it and send again."""

    slug = "bad-request"
    title = "Bad request"
    status = 400


class MethodNotAllowed(SyndicateError):
    """The path exists but not with this HTTP method; the `Allow` header lists the methods it takes."""

    slug = "method-not-allowed"
    title = "Method not allowed"
    status = 405


class NotAcceptable(SyndicateError):
    """None of the media types in `Accept` can be produced for this resource; ask for one the operation lists
    (or send `Accept: */*`)."""

    slug = "not-acceptable"
    title = "Not acceptable"
    status = 406


class PayloadTooLarge(SyndicateError):
    """The request body is larger than this endpoint accepts, so it was not read; send a smaller body (split an
    import into several documents)."""

    slug = "payload-too-large"
    title = "Payload too large"
    status = 413


class UnsupportedMediaType(SyndicateError):
    """The request body's Content-Type is not one this endpoint reads; send the media type the operation lists
    (most take application/json)."""

    slug = "unsupported-media-type"
    title = "Unsupported media type"
    status = 415


class HttpError(SyndicateError):
    """Any other HTTP error status; `status` and `detail` say which."""

    slug = "http-error"
    title = "HTTP error"


class InternalError(SyndicateError):
    """Something failed on our side; it has been logged. Retrying later may work."""

    slug = "internal"
    title = "Internal server error"
    status = 500


# --- capacity: what a client is told when it asks for more than its share ---


class ApiRateLimited(TooManyRequests):
    """More requests came from this API key or client address than its window allows; `Retry-After` says
    when the window resets, and the `RateLimit-*` headers which limit was reached."""

    slug = "api-rate-limited"
    title = "Too many requests from this key or address"


class DatabaseBusy(ServiceUnavailable):
    """Another transaction held the rows or the database this request needed to write for longer than the
    database waits (SQLite's busy timeout, PostgreSQL's lock or statement timeout); nothing was stored. Retry
    after `Retry-After` seconds."""

    slug = "database-busy"
    title = "The database is busy"


class AtCapacity(ServiceUnavailable):
    """Every API thread or database connection of this server stayed busy for longer than
    `SYNDICATE_DB_POOL_TIMEOUT_SECONDS`; the request was not run. Retry after `Retry-After` seconds."""

    slug = "at-capacity"
    title = "The service is at capacity"


class CountersUnavailable(ServiceUnavailable):
    """The counters behind a limit that guards against guessing (sign-in, registration) could not
    be reached, so the attempt was not counted and not allowed. Retry after `Retry-After` seconds;
    limits that guard nothing but load serve uncounted instead."""

    slug = "counters-unavailable"
    title = "Rate-limit counters unavailable"


class IdempotencyKeyInvalid(BadRequest):
    """The Idempotency-Key header is empty, too long or not printable ASCII; send 1 to 255 printable characters (a UUID
    is ideal).
    """

    slug = "idempotency-key-invalid"
    title = "The Idempotency-Key header is not valid"


class IdempotencyKeyInProgress(Conflict):
    """A request with the same Idempotency-Key is still being handled; wait a moment and retry with the same key to get
    its result.
    """

    slug = "idempotency-key-in-progress"
    title = "A request with this Idempotency-Key has not finished"
