"""Which billing backend the worker and CLI use.

Requests build theirs from the app's settings; outbox handlers and periodic jobs only get a
session or an engine, so they use the settings the running app configured (`configure`, called
at start-up), or the process settings (SYNDICATE_* environment) in a bare `syndicate worker`.
"""

from __future__ import annotations

from api.core.config import Settings, get_settings
from billing import BillingBackend, build_backend

_configured: Settings | None = None


def configure(settings: Settings | None) -> Settings | None:
    """Bill the worker's handlers and jobs with `settings` (None: the environment's). Returns the
    settings configured before, for whoever puts them back."""
    global _configured
    previous, _configured = _configured, settings
    return previous


def current_settings() -> Settings:
    return _configured or get_settings()


def backend(settings: Settings | None = None) -> BillingBackend:
    return build_backend(settings or current_settings())

