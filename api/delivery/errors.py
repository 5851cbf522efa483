"""Delivery's problem types: each refusal names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Forbidden, Gone, NotFound, ServiceUnavailable, SyndicateError, TooManyRequests, Unauthenticated


class InvalidToken(Unauthenticated):
    slug = "invalid-token"
    title = "The licence token is missing, malformed, expired or not signed by us"


class TokenRevoked(Unauthenticated):
    slug = "token-revoked"
    title = "The licence token has been revoked"


class LicenceNotActive(Forbidden):
    slug = "licence-not-active"
    title = "The licence is not active"


class NotCovered(Forbidden):
    slug = "not-covered"
    title = "The licence does not cover this article"


class CannotMintToken(Conflict):
    slug = "licence-not-active-for-tokens"
    title = "Tokens can only be minted for an active licence"


class TokenNotFound(NotFound):
    slug = "token-not-found"
    title = "No such token"


class SigningKeyNotFound(NotFound):
    slug = "signing-key-not-found"
    title = "No such signing key"


class ContentArticleNotFound(NotFound):
    slug = "content-not-found"
    title = "No such article"


class ContentWithdrawn(Gone):
    slug = "content-withdrawn"
    title = "The article has been withdrawn"


class NotAcceptable(SyndicateError):
    slug = "format-not-acceptable"
    title = "The requested format is not available"
    status = 406


class RateLimited(TooManyRequests):
    slug = "token-rate-limited"
    title = "Too many requests with this token"


class QuotaExceeded(TooManyRequests):
    slug = "quota-exceeded"
    title = "The licence's monthly quota is used up"


class UsageNotRecorded(ServiceUnavailable):
    slug = "usage-not-recorded"
    title = "The delivery could not be recorded, so it was not served"


class BadBeacon(NotFound):
    slug = "beacon-not-found"
    title = "Unknown usage beacon"


class WebhookEndpointNotFound(NotFound):
    slug = "webhook-endpoint-not-found"
    title = "No such webhook endpoint"


class WebhookDeliveryNotFound(NotFound):
    slug = "webhook-delivery-not-found"
    title = "No such webhook delivery"


class WebhookEndpointDisabled(Conflict):
    slug = "webhook-endpoint-disabled"
    title = "The webhook endpoint is disabled"


class WebhookDeliveryInProgress(Conflict):
    slug = "webhook-delivery-in-progress"
    title = "The webhook delivery is still being tried"
