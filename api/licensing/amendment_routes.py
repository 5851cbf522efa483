"""Changing licences after approval over HTTP: staff amend terms and grant quota; partners read the history."""

from __future__ import annotations

from fastapi import APIRouter

from api.audit.service import Actor
from api.core.errors import Unauthenticated, ValidationFailed
from api.core.problems import error_responses
from api.deps import CurrentPartner, SessionDep, StaffMayLicensing
from api.licensing import amendments, grants
from api.licensing.errors import AmendmentRefused, LicenceNotAmendable, LicenceNotFound, UnknownTerritory
from api.licensing.schemas import LicenceAmend, LicenceAmendmentList, LicenceAmendmentRead, QuotaGrantCreate
from api.staff.errors import RoleRequired

router = APIRouter(tags=["licences"])
Licensing = StaffMayLicensing
_REFUSALS = (LicenceNotFound, LicenceNotAmendable, AmendmentRefused, ValidationFailed, Unauthenticated, RoleRequired)


@router.post("/v1/staff/licences/{licence_id}/amendments", response_model=LicenceAmendmentRead, status_code=201,
             summary="Amend a licence's terms",
             description="End date, monthly quota, territories, use or conditions; effective at once in delivery, "
                         "audited, announced to the partner (e-mail and `licence.amended` webhook). A price "
                         "difference is invoiced (positive) or credited (negative).",
             responses=error_responses(*_REFUSALS, UnknownTerritory))
def amend_licence(licence_id: str, body: LicenceAmend, session: SessionDep, staff: Licensing) -> LicenceAmendmentRead:
    amendment = amendments.amend(session, licence_id, changes=body.changes(), reason=body.reason,
                                 price_difference=body.price_difference, actor=Actor("staff", staff.id))
    return LicenceAmendmentRead.model_validate(amendment)


@router.post("/v1/staff/licences/{licence_id}/quota-grants", response_model=LicenceAmendmentRead, status_code=201,
             summary="Grant extra quota for a while",
             description="Raises the monthly quota by `extra` deliveries from now until `expires_at`.",
             responses=error_responses(*_REFUSALS))
def grant_quota(licence_id: str, body: QuotaGrantCreate, session: SessionDep, staff: Licensing) -> LicenceAmendmentRead:
    amendment = amendments.grant_quota(session, licence_id, extra=body.extra, expires_at=body.expires_at,
                                       reason=body.reason, fee=body.fee, actor=Actor("staff", staff.id))
    return LicenceAmendmentRead.model_validate(amendment)


@router.get("/v1/staff/licences/{licence_id}/amendments", response_model=LicenceAmendmentList,
            summary="A licence's amendments", description="Oldest first.",
            responses=error_responses(LicenceNotFound, Unauthenticated, RoleRequired))
def staff_list_amendments(licence_id: str, session: SessionDep, staff: Licensing) -> LicenceAmendmentList:
    grants.get_licence(session, licence_id)
    return LicenceAmendmentList(items=[LicenceAmendmentRead.model_validate(a)
                                       for a in amendments.list_amendments(session, licence_id)])


@router.get("/v1/licences/{licence_id}/amendments", response_model=LicenceAmendmentList,
            summary="Changes to one of your licences", description="Oldest first.",
            responses=error_responses(LicenceNotFound, Unauthenticated))
def list_amendments(licence_id: str, session: SessionDep, partner: CurrentPartner) -> LicenceAmendmentList:
    grants.get_licence(session, licence_id, partner_id=partner.id)
    return LicenceAmendmentList(items=[LicenceAmendmentRead.model_validate(a)
                                       for a in amendments.list_amendments(session, licence_id)])
