"""The partner verification page: a partner's details and history (latest requests, licences,
invoices and, for staff who may read the audit log, its audit entries) beside the verify and suspend
buttons. Reading needs `partner-details`; the buttons post to desk_pages' verify/suspend (`partners`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.audit import service as audit
from api.console import views
from api.console.audit_lines import audit_lines
from api.console.deps import ConsoleStaffMayPartnerDetails, found
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep
from api.invoicing import service as invoicing
from api.licensing import service as licensing
from api.partners import service as partners

router = APIRouter()
HISTORY = 10  # the latest of each; the full lists are a link away
DONE = {"active": "Partner verified: it may request licences and fetch content.",
        "suspended": "Partner suspended: its keys and licences stop working at once."}


def partner_page(request: Request, session, staff: Staff, partner_id: str, *,
                 error: SyndicateError | None = None) -> HTMLResponse:
    partner = found(partners.get_partner, session, partner_id)
    requests, more_requests = licensing.list_requests(session, partner_id=partner.id, limit=HISTORY)
    licences, more_licences = licensing.list_licences(session, partner_id=partner.id, limit=HISTORY)
    invoices, more_invoices = invoicing.list_invoices(session, partner_id=partner.id, limit=HISTORY)
    entries, more_entries = (audit.list_entries(session, partner_id=partner.id, limit=HISTORY * 2)
                             if staff.may("audit") else ([], None))
    return views.render(
        request, "partner.html", staff=staff, partner=partner, requests=requests, licences=licences,
        invoices=invoices, entries=audit_lines(session, entries), more={"requests": more_requests, "licences": more_licences,
                                                  "invoices": more_invoices, "entries": more_entries},
        done=DONE.get(request.query_params.get("done", "")),
        error=error)


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
def partner_detail(request: Request, partner_id: str, staff: ConsoleStaffMayPartnerDetails,
                   session: SessionDep) -> HTMLResponse:
    return partner_page(request, session, staff, partner_id)
