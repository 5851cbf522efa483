"""Tracking's periodic work: spent dedupe rows and past day keys pruned; still-live cases
re-notified daily while their page is still seen, and closed once it has gone quiet."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from api.core.periodic import periodic


@periodic("beacon_viewers.prune", every_seconds=600)
def prune_beacon_viewers(engine: Engine) -> int:
    """Beacon dedupe rows are spent once their 30-minute window has passed; day keys once their day has."""
    from api.core.db import session_scope
    from api.tracking import service

    with session_scope(engine) as session:
        return service.prune(session)


@periodic("still_live.follow_up", every_seconds=900)
def follow_up_still_live(engine: Engine) -> int:
    """Daily reminders for cases still being seen; quiet cases closed."""
    from api.core.config import get_settings
    from api.core.db import session_scope
    from api.tracking import still_live

    with session_scope(engine) as session:
        closed = still_live.close_quiet(session, quiet_for=timedelta(days=get_settings().still_live_quiet_days))
        return closed + still_live.renotify_due(session)
