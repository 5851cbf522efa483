"""Delivery's problem types: each refusal names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import (
    Conflict, Forbidden, Gone, Invalid, NotAcceptable, NotFound, ServiceUnavailable, TooManyRequests,
    Unauthenticated,
)


class InvalidToken(Unauthenticated):
    """No licence token came with the request, or it cannot be read or verified (not a signed JWT, an unknown or
    retired signing key, expired, or naming a licence it does not hold); send one, or mint a new token.
    """

    slug = "invalid-token"
    title = "The licence token is missing, malformed, expired or not signed by us"


class TokenRevoked(Unauthenticated):
    """The token was revoked; mint a new one if the licence is still active."""

    slug = "token-revoked"
    title = "The licence token has been revoked"


class LicenceNotActive(Forbidden):
    """The licence behind the token is not active now (not started, ended, revoked or cancelled), so its tokens give no
    access; request a new licence if you still need one.
    """

    slug = "licence-not-active"
    title = "The licence is not active"


class NotCovered(Forbidden):
    """The licence does not cover this article or territory, or the article is still under embargo; `detail` says
    which, and when an embargo ends.
    """

    slug = "not-covered"
    title = "The licence does not cover this article"


class CannotMintToken(Conflict):
    """Tokens can be minted only while the licence is active; this one is not (yet, or any more)."""

    slug = "licence-not-active-for-tokens"
    title = "Tokens can only be minted for an active licence"


class TokenNotFound(NotFound):
    """No token with that id under this licence; list the licence's tokens to find it."""

    slug = "token-not-found"
    title = "No such token"


class SigningKeyNotFound(NotFound):
    """No token signing key with that id; `syndicate keys list` shows the keys that verify."""

    slug = "signing-key-not-found"
    title = "No such signing key"


class ContentArticleNotFound(NotFound):
    """No article with that id is in the catalogue; check the id your licence covers."""

    slug = "content-not-found"
    title = "No such article"


class ContentVersionNotFound(NotFound):
    """The article has no version with that number; `GET /v1/content/articles/{id}/versions` lists the versions
    there are (1 up to the current one).
    """

    slug = "content-version-not-found"
    title = "No such version of the article"


class ContentWithdrawn(Gone):
    """The publisher withdrew the article; stop serving it and remove any copy you published."""

    slug = "content-withdrawn"
    title = "The article has been withdrawn"


class FormatNotAcceptable(NotAcceptable):
    """The content or feed is not available in the requested format (`format` or `Accept`); `available` lists the
    formats that are.
    """

    slug = "format-not-acceptable"
    title = "The requested format is not available"
    status = 406


class RateLimited(TooManyRequests):
    """This token made too many requests in the current window; wait for the seconds in `Retry-After`, then retry.
    """

    slug = "token-rate-limited"
    title = "Too many requests with this token"


class QuotaExceeded(TooManyRequests):
    """The licence's monthly delivery quota is used up; wait until it renews (`Retry-After`) or ask the licensing desk
    for a larger quota.
    """

    slug = "quota-exceeded"
    title = "The licence's monthly quota is used up"


class UsageNotRecorded(ServiceUnavailable):
    """The delivery could not be metered, so the content was not served (and nothing was counted); retry shortly.
    """

    slug = "usage-not-recorded"
    title = "The delivery could not be recorded, so it was not served"


class BadBeacon(NotFound):
    """The beacon URL was not issued by us (its signature does not match); copy the attribution block again."""

    slug = "beacon-not-found"
    title = "Unknown usage beacon"


class WebhookEndpointNotFound(NotFound):
    """No webhook endpoint with that id on your account; list your endpoints to find it."""

    slug = "webhook-endpoint-not-found"
    title = "No such webhook endpoint"


class WebhookDeliveryNotFound(NotFound):
    """No delivery with that id on this webhook endpoint (another partner's delivery is not found
    either); list the endpoint's deliveries for the ids."""

    slug = "webhook-delivery-not-found"
    title = "No such webhook delivery"


class WebhookEndpointDisabled(Conflict):
    """The endpoint was disabled (it answered 410 Gone, or too many deliveries failed), so nothing is
    sent to it; enable it again with `POST /v1/webhook-endpoints/{id}/enable` first."""

    slug = "webhook-endpoint-disabled"
    title = "The webhook endpoint is disabled"


class WebhookDeliveryInProgress(Conflict):
    """The delivery is still being tried on its retry schedule; wait for it to succeed or fail
    before sending it again."""

    slug = "webhook-delivery-in-progress"
    title = "The webhook delivery is still being tried"


class BadWebhookUrl(Invalid):
    """The webhook URL is not allowed: it must be an absolute http(s) URL without credentials that reaches the public
    internet; `reason` says which rule it broke.
    """

    slug = "bad-webhook-url"
    title = "The webhook URL is not acceptable"


class LiveCapReached(Conflict):
    """The licence caps how many distinct articles may be live at a time and that many are: this article's first
    delivery would go past it. Retire a copy you no longer show (`POST /v1/licences/{id}/copies/{article_id}/retire`
    or the portal's licences page) to free a slot, then fetch again; `live_articles` lists the live ones.
    """

    slug = "live-article-cap-reached"
    title = "The licence's cap on live articles is reached"


class CopyNotLive(NotFound):
    """The article has never been delivered under this licence, so there is no copy to retire; check the ids
    against `GET /v1/partners/me/entitlements`.
    """

    slug = "copy-not-found"
    title = "No copy of this article under this licence"
