"""Licensing's periodic work: licences expire on time without anyone acting."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from api.licensing import licences
from api.worker import periodic

log = logging.getLogger("syndicate.licensing")


@periodic("licences.expire", every_seconds=60)
def expire_licences(engine: Engine) -> int:
    count = licences.expire_due(engine)
    if count:
        log.info("expired %d licence(s)", count)
    return count


@periodic("idempotency.purge", every_seconds=3600)
def purge_idempotency_keys(engine: Engine) -> int:
    """Idempotency keys are kept for a week (`api.core.idempotency.RETENTION`), then forgotten."""
    from api.core import idempotency
    from api.core.db import session_scope

    with session_scope(engine) as session:
        return idempotency.purge_expired(session)
