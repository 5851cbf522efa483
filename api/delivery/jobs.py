"""Registers delivery's outbox handlers (article.changed fan-out, webhook sends); beacon jobs are in api/tracking/jobs.py."""

from __future__ import annotations

from api.delivery import webhooks  # noqa: F401
