"""Registers delivery's outbox handlers (article.changed fan-out, webhook sends) and periodic work."""

from __future__ import annotations

from sqlalchemy import Engine

from api.delivery import webhooks  # noqa: F401
from api.worker import periodic


@periodic("beacon_viewers.prune", every_seconds=600)
def prune_beacon_viewers(engine: Engine) -> int:
    """Beacon dedupe rows are spent once their 30-minute window has passed."""
    from api.core.db import session_scope
    from api.delivery import service

    with session_scope(engine) as session:
        return service.prune_beacon_viewers(session)


@periodic("usage_event.partitions", every_seconds=6 * 3600)
def create_usage_partitions(engine: Engine) -> list[str]:
    """PostgreSQL: the usage log's monthly partitions, created months before they are written."""
    from api.core.config import get_settings
    from api.delivery import usage_retention

    return usage_retention.ensure_partitions(engine, ahead_months=get_settings().usage_partitions_ahead_months)


@periodic("usage_event.retention", every_seconds=3600)
def prune_usage_events(engine: Engine) -> int:
    """Raw usage events past retention go (whole months on PostgreSQL); rollups stay."""
    from api.core.config import get_settings
    from api.delivery import usage_retention

    return usage_retention.prune_usage_events(engine, retention_days=get_settings().usage_event_retention_days)
