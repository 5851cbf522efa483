from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.core.errors import BadCursor
from api.core.pagination import decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    at = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
    assert decode_cursor(encode_cursor([at, "art_1"]), [datetime, str]) == [at, "art_1"]


def test_cursor_times_come_back_in_utc() -> None:
    naive = datetime(2026, 11, 1, 12, 0, 0)
    [decoded] = decode_cursor(encode_cursor([naive]), [datetime])
    assert decoded == naive.replace(tzinfo=UTC) and decoded.tzinfo is UTC
    paris = datetime(2026, 11, 1, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert decode_cursor(encode_cursor([paris]), [datetime]) == [naive.replace(tzinfo=UTC)]


@pytest.mark.parametrize("cursor", [
    "not-base64!", "WzFd", encode_cursor(["only-one"]), encode_cursor([1, "art_1"]), encode_cursor(["2026-01-01", 5]),
    encode_cursor(["2026-01-01", "a\x00b"]), encode_cursor(["9999-12-31T23:59:59-23:59", "art_1"]), "_w",
])
def test_bad_cursor_is_a_clear_error(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, [datetime, str])


def test_ids_sort_in_creation_order_within_a_millisecond() -> None:
    from api.core.db import new_id

    ids = [new_id("tst") for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
