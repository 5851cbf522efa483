"""Every order each console table offers (the domain services' `*_ORDERS`, shared with the API)
reads an index in that order, on SQLite and on PostgreSQL: no sort, no table scan, with or
without the table's main filter, on the first page and the next."""

from __future__ import annotations

import pytest

from api.audit import service as audit
from api.core.db import utcnow
from api.core.pagination import encode_cursor
from api.invoicing import service as invoicing
from api.licensing import licences, requests
from api.outbox import service as outbox
from api.partners import service as partners
from api.staff import service as staff
from tests.query_plans import list_plans

NOW = utcnow()
NEXT_PAGE = {  # a cursor of each key shape
    (type(NOW), str): encode_cursor([NOW, "x_1"]), (int, str): encode_cursor([5000, "x_1"]),
    (str,): encode_cursor(["x_1"]), (str, str): encode_cursor(["m", "x_1"]),
}

# (list function, its orders, filters) -> for each order, the indexes that may serve it (the first on SQLite)
TABLES = {
    "queue": (requests.list_queue, requests.QUEUE_ORDERS, {
        "age": {None: ["ix_licence_request_created"], "state": ["ix_licence_request_queue"],
                "partner_id": ["ix_licence_request_partner_created"]},
        "newest": {None: ["ix_licence_request_created"], "state": ["ix_licence_request_queue"],
                   "partner_id": ["ix_licence_request_partner_created"]},
        "value": {None: ["ix_licence_request_value"], "state": ["ix_licence_request_queue_value"],
                  "partner_id": ["ix_licence_request_partner_value"]},
    }),
    "licences": (licences.list_licences, licences.LICENCE_ORDERS, {
        "newest": {None: ["licence"], "state": ["ix_licence_state"], "partner_id": ["ix_licence_partner"]},
        "ends": {None: ["ix_licence_ends"], "state": ["ix_licence_state_ends"], "partner_id": ["ix_licence_partner_ends"]},
    }),
    "invoices": (invoicing.list_invoices, invoicing.INVOICE_ORDERS, {
        "newest": {None: ["invoice"], "status": ["ix_invoice_status_id"], "partner_id": ["ix_invoice_partner"]},
        "amount": {None: ["ix_invoice_total"], "status": ["ix_invoice_status_total"],
                   "partner_id": ["ix_invoice_partner_total"]},
    }),
    "partners": (partners.list_partners, partners.PARTNER_ORDERS, {
        "newest": {None: ["ix_partner_created"], "status": ["ix_partner_status_created"]},
        "name": {None: ["ix_partner_name"], "status": ["ix_partner_status_name"]},
    }),
    "outbox": (outbox.list_messages, outbox.MESSAGE_ORDERS, {
        "newest": {None: ["outbox_message"], "status": ["ix_outbox_message_status_id"]},
        "next": {None: ["ix_outbox_message_next"], "status": ["ix_outbox_message_due"]},
    }),
    "staff": (staff.list_staff, staff.STAFF_ORDERS, {
        "email": {None: ["staff_user"]},  # the unique constraint's index on email
        "name": {None: ["ix_staff_user_name"]},
    }),
    "audit": (audit.list_entries, audit.AUDIT_ORDERS, {
        "newest": {None: ["ix_audit_entry_at"], "partner_id": ["ix_audit_entry_partner_at"]},
        "oldest": {None: ["ix_audit_entry_at"], "partner_id": ["ix_audit_entry_partner_at"]},
    }),
}
FILTER_VALUES = {"state": "active", "status": "paid", "partner_id": "ptn_x"}
FILTER_VALUES_OF = {"queue": {"state": "in_review"}, "partners": {"status": "active"}, "outbox": {"status": "dead"}}

CASES = [(table, sort, filter_name, page) for table, (_f, _o, expected) in TABLES.items()
         for sort, by_filter in expected.items() for filter_name in by_filter for page in ("first", "next")]


def test_every_order_of_every_table_is_covered() -> None:
    for table, (_function, orders, expected) in TABLES.items():
        assert set(expected) == set(orders), f"{table}: an order without a plan check"


@pytest.mark.parametrize(("table", "sort", "filter_name", "page"), CASES)
def test_each_order_reads_its_index_without_sorting(session, table, sort, filter_name, page) -> None:
    function, orders, expected = TABLES[table]
    kwargs: dict = {"sort": sort}
    if filter_name:
        kwargs[filter_name] = FILTER_VALUES_OF.get(table, {}).get(filter_name, FILTER_VALUES[filter_name])
    if page == "next":
        kwargs["cursor"] = NEXT_PAGE[tuple(orders[sort].kinds)]
    indexes = expected[sort][filter_name]
    (plan,) = list_plans(session, function, kwargs)
    assert "TEMP B-TREE" not in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    assert not any(step.strip().startswith("SCAN") and "INDEX" not in step for step in plan.splitlines()), plan
    assert any(index in plan for index in indexes), plan
    session.rollback()
