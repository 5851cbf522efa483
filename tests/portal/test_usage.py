"""The portal's usage view covers the last twelve calendar months, this one included."""

from __future__ import annotations

from datetime import UTC, datetime

from api.portal import usage
from tests.builders import make_article, make_licence, make_partner
from tests.reports.data import add_usage


def test_the_last_twelve_months_on_new_year_s_day_start_in_february(session) -> None:
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article])
    add_usage(session, licence, article, at=datetime(2026, 1, 31, 23, 59, tzinfo=UTC))  # thirteen months back
    add_usage(session, licence, article, at=datetime(2026, 2, 1, tzinfo=UTC))
    add_usage(session, licence, article, at=datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    session.commit()
    months = [row[0] for row in usage.rows(session, partner.id, now=datetime(2027, 1, 1, 9, tzinfo=UTC))]
    assert months == ["2026-02", "2027-01"]


def test_the_window_is_twelve_months_early_in_any_month(session) -> None:
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article])
    add_usage(session, licence, article, at=datetime(2025, 3, 28, tzinfo=UTC))
    add_usage(session, licence, article, at=datetime(2025, 4, 1, tzinfo=UTC))
    session.commit()
    assert [row[0] for row in usage.rows(session, partner.id, now=datetime(2026, 3, 2, tzinfo=UTC))] == ["2025-04"]
