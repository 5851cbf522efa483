"""Registers delivery's outbox handlers (article.changed fan-out, webhook sends) with the worker."""

from api.delivery import webhooks  # noqa: F401
