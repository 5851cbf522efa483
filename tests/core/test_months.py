"""Calendar-month arithmetic: year boundaries, month ends, leap years, offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from api.core.months import add_months, last_n_months, month_bounds, month_start, months_between, next_month, parse_month

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("start", "count", "end"), [
    (datetime(2027, 1, 31, tzinfo=UTC), 1, datetime(2027, 2, 28, tzinfo=UTC)),
    (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),  # leap year
    (datetime(2027, 11, 15, tzinfo=UTC), 3, datetime(2028, 2, 15, tzinfo=UTC)),
    (datetime(2026, 12, 1, tzinfo=UTC), 1, datetime(2027, 1, 1, tzinfo=UTC)),  # Dec -> Jan
    (datetime(2026, 1, 1, tzinfo=UTC), -1, datetime(2025, 12, 1, tzinfo=UTC)),  # Jan -> Dec, backwards
    (datetime(2026, 3, 31, 9, 30, tzinfo=UTC), -1, datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),
    (datetime(2026, 5, 10, tzinfo=UTC), -17, datetime(2024, 12, 10, tzinfo=UTC)),
    (datetime(2026, 5, 10, tzinfo=UTC), 24, datetime(2028, 5, 10, tzinfo=UTC)),
    (datetime(2028, 2, 29, tzinfo=UTC), 12, datetime(2029, 2, 28, tzinfo=UTC)),
    (date(2026, 12, 31), 2, date(2027, 2, 28)),
])
def test_add_months_keeps_the_day_clamped_to_the_month_end(start, count, end) -> None:
    assert add_months(start, count) == end


def test_add_months_counts_in_the_offset_the_time_was_written_in() -> None:
    # 1 March at +02:00 is still 28 February in UTC: a month later is 1 April at +02:00, not 28 March.
    start = datetime(2027, 3, 1, tzinfo=PLUS_TWO)
    assert add_months(start, 1) == datetime(2027, 4, 1, tzinfo=PLUS_TWO)


@pytest.mark.parametrize(("instant", "start", "end"), [
    (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)),
    (datetime(2028, 2, 29, 12, tzinfo=UTC), datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
    # 00:30 on 1 January at +02:00 is still December in UTC.
    (datetime(2027, 1, 1, 0, 30, tzinfo=PLUS_TWO), datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_month_bounds_are_the_utc_month_of_an_instant(instant, start, end) -> None:
    assert month_bounds(instant) == (start, end)
    assert month_start(instant) == start and next_month(instant) == end


def test_a_naive_time_is_taken_as_utc_and_stays_naive() -> None:
    assert month_start(datetime(2026, 12, 31, 23, 0)) == datetime(2026, 12, 1)
    assert next_month(datetime(2026, 12, 31, 23, 0)) == datetime(2027, 1, 1)


def test_dates_have_months_too() -> None:
    assert month_bounds(date(2026, 12, 15)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert next_month(date(2028, 2, 29)) == date(2028, 3, 1)


@pytest.mark.parametrize(("now", "since"), [
    (datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),  # a year boundary: Feb..Jan, 12 months
    (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    (datetime(2026, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
    (datetime(2028, 2, 29, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),
])
def test_the_last_twelve_months_are_twelve_calendar_months(now, since) -> None:
    assert last_n_months(now, 12) == since
    assert months_between(since, next_month(now), 36) == 12


def test_the_last_month_is_the_month_itself() -> None:
    assert last_n_months(datetime(2026, 7, 19, tzinfo=UTC), 1) == datetime(2026, 7, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        last_n_months(datetime(2026, 7, 19, tzinfo=UTC), 0)


def test_months_between_counts_a_part_month_as_whole() -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    assert months_between(start, datetime(2027, 4, 1, tzinfo=UTC), 36) == 1
    assert months_between(start, datetime(2027, 4, 2, tzinfo=UTC), 36) == 2
    assert months_between(datetime(2026, 11, 15, tzinfo=UTC), datetime(2027, 2, 15, tzinfo=UTC), 36) == 3  # over New Year
    assert months_between(datetime(2028, 1, 31, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC), 36) == 1  # leap Feb


def test_months_between_stops_just_past_the_limit() -> None:
    assert months_between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC), 3) == 4


def test_a_month_is_read_from_yyyy_mm() -> None:
    assert parse_month("2026-12") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_month("0001-01") == datetime(1, 1, 1, tzinfo=UTC) and next_month(parse_month("9998-12")).year == 9999
    for bad in ("2026-13", "2026-1", "26-01", "", "2026-00", "0000-01", "9999-12"):
        with pytest.raises(ValueError):
            parse_month(bad)
