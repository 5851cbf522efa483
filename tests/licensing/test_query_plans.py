"""Every list the licensing API serves reads an index in its own order: no table scan, no sort
in a temporary B-tree, whatever the filters and whichever page (SQLite's plans)."""

from __future__ import annotations

import pytest

from api.core.db import utcnow
from api.core.pagination import encode_cursor
from api.licensing import autoapproval, licences, requests
from tests.query_plans import list_problems, sqlite_only

pytestmark = sqlite_only

AT, ID, VALUE = encode_cursor([utcnow(), "lrq_x"]), encode_cursor(["lrq_x"]), encode_cursor([5000, "lrq_x"])

# (function, keyword arguments, must it seek rather than walk an index?)
LISTS = {
    "own requests": (requests.list_for_partner, {"partner_id": "ptn_x"}, True),
    "own requests, next page": (requests.list_for_partner, {"partner_id": "ptn_x", "cursor": ID}, True),
    "own requests by state": (requests.list_for_partner, {"partner_id": "ptn_x", "state": "approved"}, True),
    "licence ids of a page": (requests.licence_ids, {"request_ids": ["lrq_a", "lrq_b"]}, True),
    "own licences": (licences.list_licences, {"partner_id": "ptn_x"}, True),
    "own licences by state": (licences.list_licences, {"partner_id": "ptn_x", "state": "active"}, True),
    "own licences, next page": (licences.list_licences, {"partner_id": "ptn_x", "cursor": ID}, True),
    "all licences": (licences.list_licences, {}, False),
    "all licences, next page": (licences.list_licences, {"cursor": ID}, True),
    "licences by state": (licences.list_licences, {"state": "active"}, True),
    "licence of a request": (licences.list_licences, {"request_id": "lrq_x"}, True),
    "rules": (autoapproval.list_rules, {}, False),
    "rules, next page": (autoapproval.list_rules, {"cursor": AT}, True),
    "enabled rules (every submission)": (autoapproval.enabled_rules, {}, False),
}
for sort, cursor in (("age", AT), ("value", VALUE)):
    LISTS[f"queue by {sort}"] = (requests.list_queue, {"sort": sort}, False)
    LISTS[f"queue by {sort}, next page"] = (requests.list_queue, {"sort": sort, "cursor": cursor}, True)
    LISTS[f"queue by {sort} of a state"] = (requests.list_queue, {"sort": sort, "state": "in_review"}, True)
    LISTS[f"queue by {sort} of a state, next page"] = (
        requests.list_queue, {"sort": sort, "state": "in_review", "cursor": cursor}, True)
    LISTS[f"queue by {sort} of a partner"] = (requests.list_queue, {"sort": sort, "partner_id": "ptn_x"}, True)
    LISTS[f"queue by {sort} in a currency"] = (requests.list_queue, {"sort": sort, "currency": "GBP"}, False)


@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_queries_read_an_index_in_order(session, name: str) -> None:
    function, kwargs, search = LISTS[name]
    assert list_problems(session, function, kwargs, search=search) == []
