"""Idempotent writes: insert-on-conflict-do-nothing, then read back whatever row won."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.core.db import is_postgres, utcnow
from api.invoicing.models import Invoice, InvoiceLine
from api.outbox.models import OutboxMessage
from api.partners.models import Partner
from billing import LineSpec


def insert_ignore(session: Session, model: type[SQLModel], values: dict[str, Any], *, conflict: list[str] | None) -> bool:
    """Insert a row unless one with the same `conflict` columns exists (None: unless it collides with
    any unique constraint); True if this call inserted it."""
    table = model.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ for type checkers
    for column in table.columns:
        # Python-side defaults (ids, timestamps) do not run for core inserts: fill them here.
        if column.name not in values and column.default is not None and column.default.is_callable:
            values[column.name] = column.default.arg(None)
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    # RETURNING says whether a row went in (rowcount is not reliable through the ORM session).
    inserted = session.execute(stmt.returning(*table.primary_key.columns)).first()
    session.flush()
    return inserted is not None


def claim_invoice(session: Session, *, charge_key: str, **values: Any) -> Invoice:
    """The invoice for `charge_key`, created if needed and locked for this transaction on PostgreSQL."""
    now = utcnow()
    # Any unique conflict, not only charge_key's: a period invoice is also unique by (partner, period),
    # and on PostgreSQL a concurrent run's uncommitted row collides there too, which an insert that
    # names only charge_key as its arbiter would raise instead of skipping.
    insert_ignore(session, Invoice, {"charge_key": charge_key, "created_at": now, "updated_at": now, **values},
                  conflict=None)
    stmt = select(Invoice).where(Invoice.charge_key == charge_key).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return session.exec(stmt).one()


Span = tuple[datetime, datetime]  # [usage_from, usage_to) of a usage line


def add_lines(session: Session, invoice: Invoice, lines: list[LineSpec], *, licence_ids: dict[str, str | None],
              article_ids: dict[str, str | None] | None = None, spans: dict[str, Span] | None = None) -> list[InvoiceLine]:
    """Add lines not yet on the invoice (a re-run adds nothing) and return all of its lines."""
    for line in lines:
        usage_from, usage_to = (spans or {}).get(line.key, (None, None))
        insert_ignore(session, InvoiceLine, {
            "invoice_id": invoice.id, "line_key": line.key, "licence_id": licence_ids.get(line.key),
            "article_id": (article_ids or {}).get(line.key), "description": line.description[:500],
            "quantity": line.quantity, "unit_amount": line.unit_amount, "amount": line.amount,
            "currency": line.currency, "usage_from": usage_from, "usage_to": usage_to,
        }, conflict=["invoice_id", "line_key"])
    return lines_of(session, invoice.id)


def set_lines(session: Session, invoice: Invoice, lines: list[LineSpec], *, licence_ids: dict[str, str | None],
              spans: dict[str, Span] | None = None) -> list[InvoiceLine]:
    """A draft's lines become exactly `lines` (quantities grow with usage recorded late, before the
    invoice is issued); an issued invoice's lines never change."""
    wanted = {line.key: line for line in lines}
    for row in lines_of(session, invoice.id):
        line = wanted.get(row.line_key)
        span = (spans or {}).get(row.line_key, (None, None))
        if line is None:
            session.execute(delete(InvoiceLine).where(col(InvoiceLine.id) == row.id))
        elif (row.quantity, row.unit_amount, row.description, row.usage_from, row.usage_to) != (
                line.quantity, line.unit_amount, line.description[:500], *span):
            row.quantity, row.unit_amount, row.amount = line.quantity, line.unit_amount, line.amount
            row.description = line.description[:500]
            row.usage_from, row.usage_to = span
            session.add(row)
    session.flush()
    return add_lines(session, invoice, lines, licence_ids=licence_ids, spans=spans)


def lock_partner(session: Session, partner_id: str) -> None:
    """Serialise billing of one partner: where its usage was billed up to is read and extended under
    this lock (a row lock on PostgreSQL; on SQLite every write transaction already runs alone).
    FOR NO KEY UPDATE: it excludes other billers but not the key-share locks that inserting rows
    which reference the partner takes, which FOR UPDATE would deadlock with."""
    if is_postgres(session):
        session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update(key_share=True))


def pending_messages(topic: str, field: str, value: Any) -> SelectOfScalar[str]:
    """Outbox messages of `topic` still to be delivered whose payload[field] is `value` (a value or
    a correlated column). Read-only: the outbox owns its rows and offers no such query itself."""
    return select(OutboxMessage.id).where(OutboxMessage.topic == topic, OutboxMessage.status == "pending",
                                          OutboxMessage.payload[field].as_string() == value)


def lines_of(session: Session, invoice_id: str) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                             .order_by(InvoiceLine.line_key)).all())


def as_specs(lines: list[InvoiceLine]) -> list[LineSpec]:
    return [LineSpec(key=line.line_key, description=line.description, unit_amount=line.unit_amount,
                     quantity=line.quantity, currency=line.currency,
                     metadata={"syndicate_licence_id": line.licence_id or ""}) for line in lines]
