"""Named orders (api/core/pagination.SortOrder): the staff API's lists take the same `sort` as the
console's tables, each order pages by its own keyset, and a cursor of one order is refused by another."""

from __future__ import annotations

import pytest

from api.core.errors import BadCursor, Invalid
from api.partners import service as partners
from tests.builders import make_partner, staff_headers

STAFF_LISTS = ["/v1/staff/licence-requests", "/v1/staff/licences", "/v1/staff/invoices", "/v1/staff/partners",
               "/v1/staff/users", "/v1/staff/outbox", "/v1/staff/audit"]


def test_the_staff_api_sorts_partners_by_name_a_page_at_a_time(client, session) -> None:
    for name in ("Delta Post", "Alpha Courier", "Charlie Times", "Bravo Herald"):
        make_partner(session, name=name)
    headers = staff_headers(client, session, roles=["licensing"])
    first = client.get("/v1/staff/partners", params={"sort": "name", "limit": 2}, headers=headers).json()
    second = client.get("/v1/staff/partners", params={"sort": "name", "limit": 2, "cursor": first["next_cursor"]},
                        headers=headers).json()
    assert [p["name"] for p in first["items"] + second["items"]] == ["Alpha Courier", "Bravo Herald", "Charlie Times",
                                                                     "Delta Post"]


@pytest.mark.parametrize("path", STAFF_LISTS)
def test_an_unknown_order_is_a_validation_problem(client, session, path) -> None:
    headers = staff_headers(client, session, roles=["admin"])
    response = client.get(path, params={"sort": "nonsense"}, headers=headers)
    assert response.status_code == 422 and response.json()["type"] == "/problems/validation", response.text


def test_the_service_refuses_an_unknown_order_and_another_orders_cursor(session) -> None:
    for name in ("One", "Two", "Three"):
        make_partner(session, name=name)
    with pytest.raises(Invalid, match="not a way this list can be sorted"):
        partners.list_partners(session, sort="nonsense")
    _rows, by_name = partners.list_partners(session, sort="name", limit=1)
    _rows, newest = partners.list_partners(session, sort="newest", limit=1)
    assert by_name and newest
    with pytest.raises(BadCursor):
        partners.list_partners(session, sort="newest", cursor=by_name)
