"""Which billing backend the worker and CLI use.

Requests build theirs from the app's settings; outbox handlers and periodic jobs only get a
session or an engine, so they read the process settings (SYNDICATE_* environment), which tests
and embedding code may replace with `use_settings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.core.config import Settings, get_settings
from billing import BillingBackend, build_backend

_override: Settings | None = None


def current_settings() -> Settings:
    return _override or get_settings()


def backend(settings: Settings | None = None) -> BillingBackend:
    return build_backend(settings or current_settings())


@contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    global _override
    previous, _override = _override, settings
    try:
        yield settings
    finally:
        _override = previous
