"""Licensing's periodic work: licences expire on time without anyone acting."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from api.core.periodic import periodic
from api.licensing import licences

log = logging.getLogger("syndicate.licensing")


@periodic("licences.expire", every_seconds=60)
def expire_licences(engine: Engine) -> int:
    count = licences.expire_due(engine)
    if count:
        log.info("expired %d licence(s)", count)
    return count

