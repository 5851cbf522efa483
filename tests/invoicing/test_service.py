"""The staff and partner invoice listings use an index for each filter, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from api.invoicing import service as invoicing
from api.invoicing.models import Invoice, InvoiceStatus
from tests.query_plans import statement_plan


@pytest.mark.parametrize("filters, indexes", [
    ({"period": "2026-11"}, {"ix_invoice_period_id"}),
    ({"status": InvoiceStatus.open}, {"ix_invoice_status_id"}),
    ({"partner_id": "ptn_x"}, {"ix_invoice_partner"}),
    # a partner's own list with a status filter: either (x, id) index serves it
    ({"partner_id": "ptn_x", "status": InvoiceStatus.paid}, {"ix_invoice_partner", "ix_invoice_status_id"}),
])
def test_invoice_listings_use_an_index(session, filters, indexes) -> None:
    # the page query as keyset_page runs it: newest id first, one row more than the page
    stmt = invoicing.list_statement(**filters).order_by(Invoice.id.desc()).limit(51)
    plan = statement_plan(session, stmt)
    assert any(index in plan for index in indexes), plan
    assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan  # the index gives the order too
    session.rollback()
