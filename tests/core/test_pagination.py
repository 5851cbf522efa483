from __future__ import annotations

from datetime import datetime

import pytest

from api.core.errors import BadCursor
from api.core.pagination import decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    at = datetime(2026, 11, 1, 12, 0, 0)
    assert decode_cursor(encode_cursor([at, "art_1"]), [datetime, str]) == [at, "art_1"]


@pytest.mark.parametrize("cursor", ["not-base64!", "WzFd", encode_cursor(["only-one"])])
def test_bad_cursor_is_a_clear_error(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, [datetime, str])


def test_ids_sort_in_creation_order_within_a_millisecond() -> None:
    from api.core.db import new_id

    ids = [new_id("tst") for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
