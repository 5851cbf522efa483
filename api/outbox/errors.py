"""The outbox domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound


class OutboxMessageNotFound(NotFound):
    """No outbox message with that id; list the outbox to find it."""

    slug = "outbox-message-not-found"
    title = "No such outbox message"


class OutboxMessageNotRetryable(Conflict):
    """The outbox message was already delivered; only pending and dead messages can be retried."""

    slug = "outbox-message-not-retryable"
    title = "The outbox message cannot be retried"


class BadOutboxStatus(Invalid):
    """The outbox status filter is not one of the statuses messages can have; `detail` lists them."""

    slug = "bad-outbox-status"
    title = "Unknown outbox message status"
