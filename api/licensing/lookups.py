"""Reading one licence request, shared by the partner's side (`requests`) and the decisions.

Kept apart from `requests` so the layers point one way: submitting a request runs the auto-approval
rules, which decide it (`requests -> autoapproval -> decisions -> lookups`).
"""

from __future__ import annotations

from sqlmodel import Session, select

from api.core.db import is_postgres
from api.licensing.errors import LicenceRequestNotFound
from api.licensing.models import LicenceRequest


def get_request(session: Session, request_id: str, *, partner_id: str | None = None, lock: bool = False) -> LicenceRequest:
    """The request, or LicenceRequestNotFound; with `partner_id`, another partner's is not found either.

    `lock=True` re-reads the row under `SELECT ... FOR UPDATE` on PostgreSQL, so two deciders
    take turns and the second sees the first one's decision. (SQLite transactions already run
    one at a time: every transaction starts with BEGIN IMMEDIATE.)
    """
    stmt = select(LicenceRequest).where(LicenceRequest.id == request_id).execution_options(populate_existing=True)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    request = session.exec(stmt).first()
    if request is None or (partner_id is not None and request.partner_id != partner_id):
        raise LicenceRequestNotFound(f"No licence request {request_id}.")
    return request
