"""The audit trail's listings read an index in their own order, and seek the most selective
filter's index: one object's entries, else one partner's, else one kind of object's."""

from __future__ import annotations

import pytest

from api.audit import service
from api.core.db import utcnow
from api.core.pagination import encode_cursor
from tests.query_plans import captured, plan, plan_problems, sqlite_only

pytestmark = sqlite_only

AT = encode_cursor([utcnow(), "aud_x"])

LISTS = {
    "everything": ({}, "ix_audit_entry_at"),
    "everything, next page": ({"cursor": AT}, "ix_audit_entry_at"),
    "a partner's": ({"partner_id": "ptn_x"}, "ix_audit_entry_partner_at"),
    "a partner's, next page": ({"partner_id": "ptn_x", "cursor": AT}, "ix_audit_entry_partner_at"),
    "a partner's about one object": ({"partner_id": "ptn_x", "object_id": "lrq_x"}, "ix_audit_entry_object_at"),
    "a partner's about a kind of object": ({"partner_id": "ptn_x", "object_type": "licence"}, "ix_audit_entry_partner_at"),
    "one object": ({"object_id": "lrq_x"}, "ix_audit_entry_object_at"),
    "one object of a kind": ({"object_type": "licence_request", "object_id": "lrq_x"}, "ix_audit_entry_object_at"),
    "one object, next page": ({"object_id": "lrq_x", "cursor": AT}, "ix_audit_entry_object_at"),
    "a kind of object": ({"object_type": "licence"}, "ix_audit_entry_type_at"),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_audit_listings_seek_the_most_selective_index(session, name: str) -> None:
    kwargs, index = LISTS[name]
    with captured(session) as statements:
        service.list_entries(session, **kwargs)
    assert plan_problems(session, statements, search=bool(kwargs)) == []
    (statement, parameters), = statements
    assert any(index in step for step in plan(session, statement, parameters))
