"""Core's periodic work (imported by api.jobs; importing it registers the jobs)."""

from __future__ import annotations

from sqlalchemy import Engine

from api.core import idempotency
from api.core.db import session_scope
from api.core.periodic import periodic


@periodic("idempotency.purge", every_seconds=3600)
def purge_idempotency_keys(engine: Engine) -> int:
    """Idempotency keys are kept for a week (`api.core.idempotency.RETENTION`), then forgotten."""
    with session_scope(engine) as session:
        return idempotency.purge_expired(session)
