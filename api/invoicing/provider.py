"""Which billing backend the worker and CLI use.

Requests build theirs from the app's settings; outbox handlers and periodic jobs only get a
session or an engine, so they bill with `config.worker_settings()`.
"""

from __future__ import annotations

from api.core.config import Settings, worker_settings
from billing import BillingBackend, build_backend


def backend(settings: Settings | None = None) -> BillingBackend:
    return build_backend(settings or worker_settings())

