"""The catalogue's periodic work: licensed copies for articles written before they were made at
write (or by anything that left one stale), so their first delivery parses no HTML either."""

from __future__ import annotations

from sqlalchemy import Engine

from api.core.periodic import periodic

BATCH = 500


@periodic("licensed_copies.fill", every_seconds=300)
def fill_licensed_copies(engine: Engine) -> int:
    """Up to BATCH articles a run, each in the one transaction of its batch."""
    from api.catalogue import service
    from api.core.db import session_scope

    with session_scope(engine) as session:
        return service.fill_licensed_copies(session, limit=BATCH)
