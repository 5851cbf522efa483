"""Registers delivery's outbox handlers (article.changed fan-out, webhook sends) and periodic work."""

from __future__ import annotations

from sqlalchemy import Engine

from api.core.periodic import periodic
from api.delivery import webhooks  # noqa: F401


@periodic("beacon_viewers.prune", every_seconds=600)
def prune_beacon_viewers(engine: Engine) -> int:
    """Beacon dedupe rows are spent once their 30-minute window has passed."""
    from api.core.db import session_scope
    from api.delivery import service

    with session_scope(engine) as session:
        return service.prune_beacon_viewers(session)
