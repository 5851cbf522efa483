"""The partner lists read an index in their own order: no table scan, no temporary B-tree."""

from __future__ import annotations

import pytest

from api.core.db import utcnow
from api.core.pagination import encode_cursor
from api.partners import keys, service
from tests.query_plans import list_problems, sqlite_only

pytestmark = sqlite_only

AT, ID = encode_cursor([utcnow(), "ptn_x"]), encode_cursor(["pct_x"])

LISTS = {
    "partners": (service.list_partners, {}, False),
    "partners, next page": (service.list_partners, {"cursor": AT}, True),
    "partners by status": (service.list_partners, {"status": "pending"}, True),
    "partners by status, next page": (service.list_partners, {"status": "pending", "cursor": AT}, True),
    "contacts": (service.list_contacts, {"partner_id": "ptn_x"}, True),
    "contacts, next page": (service.list_contacts, {"partner_id": "ptn_x", "cursor": ID}, True),
    "api keys": (keys.list_keys, {"partner_id": "ptn_x"}, True),
    "api keys, next page": (keys.list_keys, {"partner_id": "ptn_x", "cursor": AT}, True),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_queries_read_an_index_in_order(session, name: str) -> None:
    function, kwargs, search = LISTS[name]
    assert list_problems(session, function, kwargs, search=search) == []
