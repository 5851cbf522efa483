"""The catalogue's periodic work: an embargo that lifts by the clock is recorded as a change
(api/catalogue/embargoes.py), within about ten seconds of its time; and licensed copies are made
for articles written before they were made at write (or left stale), so their first delivery
parses no HTML either."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from api.core.periodic import periodic

log = logging.getLogger("syndicate.catalogue")

LICENSED_COPY_BATCH = 500


@periodic("embargoes.record_lifts", every_seconds=10)
def record_embargo_lifts(engine: Engine) -> int:
    """Every lift due, a batch per transaction (each batch's commit numbers its changes and wakes long-polls)."""
    from api.catalogue import embargoes
    from api.core.db import session_scope

    total = 0
    while True:
        with session_scope(engine) as session:
            now = embargoes.utcnow()
            batch = embargoes.due(session, now)
            recorded = sum(embargoes.record_lift(session, article_id, now) for article_id in batch)
        total += recorded
        if len(batch) < embargoes.BATCH:
            break
    if total:
        log.info("recorded %d embargo lift(s)", total)
    return total


@periodic("licensed_copies.fill", every_seconds=300)
def fill_licensed_copies(engine: Engine) -> int:
    """Up to LICENSED_COPY_BATCH articles a run, in one transaction."""
    from api.catalogue import service
    from api.core.db import session_scope

    with session_scope(engine) as session:
        return service.fill_licensed_copies(session, limit=LICENSED_COPY_BATCH)
