"""Registers delivery's outbox handlers (article.changed fan-out, webhook sends); beacon jobs are in api/tracking/jobs.py."""

from __future__ import annotations

from sqlalchemy import Engine

from api.core.periodic import periodic
from api.delivery import webhooks  # noqa: F401


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
