"""The usage log's three tables and the rules that keep them in step.

- `usage_event`: one raw row per delivery (partitioned by month on PostgreSQL, bounded by retention).
- `republication`: one row per first fetch of an article under a licence, the billable delivery.
- `usage_daily`: deliveries and republications per UTC day, licence and article; the database's
  triggers sum it per day and licence (`usage_licence_daily`) and per day and article
  (`usage_article_daily`) as it changes (api/delivery/rollups.py).

The content path writes all three in one batch (api/delivery/metering_sqlite.py and
metering_postgres.py); `add_event` writes them through the ORM with the same rules, for imports,
demo data and tests. Readers count from the rollups wherever their range is made of whole UTC days
(quotas and reports from the per-licence one, top articles from the per-article one), and invoicing
counts republications, whose instants are exact at any cut-off (an invoice-now bills up to the
second it ran; a day's rollup cannot split there).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from api.core.db import utcnow
from api.delivery.models import Republication, UsageDaily, UsageEvent, UsageLicenceDaily


def add_event(session: Session, *, licence_id: str, partner_id: str, article_id: str, article_version: int = 1,
              format: str = "json", token_id: str | None = None, at: datetime | None = None,
              billable: bool = True) -> UsageEvent:
    """Record one delivery: billable when `billable` is asked and this licence has not had the article
    before (the writer's rule), counted in its day's rollup. Flushes; the caller commits."""
    at = at or utcnow()
    event = UsageEvent(licence_id=licence_id, partner_id=partner_id, article_id=article_id,
                       article_version=article_version, format=format, token_id=token_id, at=at)
    if billable and session.get(Republication, (licence_id, article_id)) is None:
        event.billable = True
        session.add(Republication(licence_id=licence_id, article_id=article_id, partner_id=partner_id,
                                  usage_id=event.id, at=at))
    session.add(event)
    day = at.astimezone(UTC).date()
    daily = session.get(UsageDaily, (day, licence_id, article_id))
    if daily is None:
        daily = UsageDaily(day=day, licence_id=licence_id, article_id=article_id, partner_id=partner_id)
        session.add(daily)
    daily.deliveries += 1
    daily.republications += int(event.billable)
    session.flush()
    return event


def day_of(instant: datetime) -> date:
    """The UTC day an instant starting a report or quota range falls on, which must be a midnight:
    the rollup counts whole days, so a range starting mid-day would not be exact."""
    instant = instant.astimezone(UTC)
    if instant.time() != time(0):
        raise ValueError(f"usage rollups count whole UTC days; {instant.isoformat()} is not a midnight")
    return instant.date()


def deliveries_by_licence(session: Session, licence_ids: list[str], since: datetime) -> dict[str, int]:
    """`deliveries_since` a midnight for many licences in one query (each licence present, 0 if none)."""
    found = dict.fromkeys(licence_ids, 0)
    if licence_ids:
        stmt = (select(col(UsageLicenceDaily.licence_id), func.sum(UsageLicenceDaily.deliveries))
                .where(col(UsageLicenceDaily.licence_id).in_(licence_ids), col(UsageLicenceDaily.day) >= day_of(since))
                .group_by(col(UsageLicenceDaily.licence_id)))
        found.update({licence_id: int(total) for licence_id, total in session.execute(stmt).all()})
    return found


def deliveries_since(session: Session, licence_id: str, since: datetime) -> int:
    """Deliveries recorded under a licence since `since`: whole days from the rollup, and the raw
    events of the part-day before the first whole day when `since` is not a midnight."""
    since = since.astimezone(UTC)
    first_day = since.date() if since.time() == time(0) else since.date() + timedelta(days=1)
    total = session.execute(select(func.coalesce(func.sum(UsageLicenceDaily.deliveries), 0))
                            .where(col(UsageLicenceDaily.licence_id) == licence_id,
                                   col(UsageLicenceDaily.day) >= first_day)).scalar_one()
    if since.time() != time(0):
        midnight = datetime.combine(first_day, time(0), tzinfo=UTC)
        total += session.execute(select(func.count()).select_from(UsageEvent).where(
            col(UsageEvent.licence_id) == licence_id, col(UsageEvent.at) >= since, col(UsageEvent.at) < midnight)).scalar_one()
    return int(total)
