"""Staff reports over HTTP: revenue (finance) and usage, for a date range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.core.db import utcnow
from api.core.errors import Unauthenticated, ValidationFailed
from api.core.problems import error_responses
from api.core.times import IsoDate
from api.deps import SessionDep, StaffMayRevenue, StaffMayUsage
from api.reports import service
from api.reports.schemas import RevenueReport, UsageReport
from api.reports.errors import BadReportRange, ReportRangeTooLong
from api.staff.errors import RoleRequired

router = APIRouter(prefix="/v1/staff/reports", tags=["reports"])
Revenue = StaffMayRevenue
Usage = StaffMayUsage
ERRORS = error_responses(BadReportRange, ReportRangeTooLong, ValidationFailed, Unauthenticated,
                         RoleRequired)

From = Annotated[IsoDate | None, Query(alias="from", description="First day counted (UTC), e.g. `2026-01-01`.",
                                    openapi_examples={"year": {"summary": "A year", "value": "2026-01-01"}})]
To = Annotated[IsoDate | None, Query(description="First day NOT counted (UTC), after `from`; at most three years later.",
                                  openapi_examples={"year": {"summary": "A year", "value": "2027-01-01"}})]


@router.get("/revenue", response_model=RevenueReport, response_model_by_alias=True, summary="Revenue report",
            description="Paid invoices by month and currency for [`from`, `to`), with what is outstanding and "
                        "overdue today. Defaults: the last twelve months up to the end of this month. "
                        "Roles: finance or admin.",
            responses=ERRORS)
def revenue(session: SessionDep, staff: Revenue, from_: From = None, to: To = None) -> RevenueReport:
    end = to or service.month_of(utcnow().date())[1]
    start = from_ or end.replace(year=end.year - 1)
    return service.revenue(session, start=start, end=end)


@router.get("/usage", response_model=UsageReport, response_model_by_alias=True, summary="Usage report",
            description="Deliveries and billable republications for [`from`, `to`), by partner, by licence, and the "
                        "most used articles. Defaults: this calendar month. Roles: finance, licensing or admin.",
            responses=ERRORS)
def usage(session: SessionDep, staff: Usage, from_: From = None, to: To = None,
          limit: Annotated[int, Query(ge=1, le=500, description="Rows in each ranking.")] = 20) -> UsageReport:
    this_month = service.month_of(utcnow().date())
    start, end = from_ or this_month[0], to or this_month[1]
    return service.usage(session, start=start, end=end, limit=limit)
