"""Console pages to change a licence after approval: its page with the history of amendments, the
amend form (end date, quota, territories, use, conditions) and the time-limited quota grant.
Same service as `/v1/staff/licences/{id}/amendments` (api/licensing/amendments.py). Role: `licensing`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.audit.service import Actor
from api.console import labels, views
from api.console.deps import ConsoleStaffMayLicensing, PostingStaffMayLicensing, attempt, found
from api.console.views import Staff
from api.core.errors import SyndicateError
from api.deps import SessionDep
from api.invoicing import service as invoicing
from api.licensing import service as licensing
from api.licensing.models import Licence, Use
from api.licensing.states import LicenceState
from api.partners import service as partners
from api.staff import service as staff_service
from api.console.errors import BadDate, NotAWholeNumber

router = APIRouter()
DONE = {"amended": "Licence amended: delivery follows the new terms now, and the partner is told.",
        "granted": "Quota granted: the partner may use it from now on, and is told.",
        "cancelled": "Licence cancelled: its invoice is void, nothing is owed, and the partner is told.",
        "invoiced": "Invoice drafted for the usage up to now: the worker sends it shortly."}


def _day(text: str, what: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadDate(f"“{text}” is not a date for {what}; pick one like 2027-03-31.") from None


def _signed_amount(text: str, currency: str) -> int | None:
    text = (text or "").strip()
    negative = text.startswith("-")
    amount = views.parse_amount(text.lstrip("-"), currency)
    return None if amount is None else (-amount if negative else amount)


def whole_number(text: str, what: str) -> int | None:
    """What staff type as a count ("1,500") -> 1500; empty -> None; shared by the console's forms."""
    text = (text or "").replace(",", "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise NotAWholeNumber(f"“{text}” is not a whole number for {what}.")
    return int(text)


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "no limit" if name in ("monthly_quota", "max_live_articles") else "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if name in ("ends_at", "starts_at", "expires_at"):
        return datetime.fromisoformat(value).strftime("%d %b %Y")
    if name == "use":
        return labels.label(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def describe(amendment) -> list[str]:
    """Each change as "End date: 01 Mar 2027 → 01 Jun 2027" (a grant: "Extra deliveries a month: 500")."""
    return [f"{labels.label(name)}: " + (f"{_shown(name, amendment.before[name])} → " if name in amendment.before else "")
            + _shown(name, value) for name, value in amendment.after.items()]


def staff_names(session, ids) -> dict[str, str]:
    names: dict[str, str] = {}
    for staff_id in {i for i in ids if i}:
        try:
            names[staff_id] = staff_service.get_staff(session, staff_id).name
        except SyndicateError:
            names[staff_id] = "the system" if ":" in staff_id else staff_id
    return names


def _licence_page(request: Request, session, staff: Staff, licence_id: str, *, error: SyndicateError | None = None,
                  form: str | None = None, values: dict | None = None) -> HTMLResponse:
    licence: Licence = found(licensing.get_licence, session, licence_id)
    history = licensing.list_amendments(session, licence.id)
    live = licensing.quota_grants(session, licence.id, live_at=datetime.now(UTC))
    invoices, _ = invoicing.list_invoices(session, licence_id=licence.id, limit=50)
    return views.render(
        request, "licence.html", staff=staff, licence=licence, partner=partners.get_partner(session, licence.partner_id),
        history=[(a, describe(a)) for a in history], grants=live, invoices=invoices, uses=list(Use),
        staff_names=staff_names(session, [a.created_by for a in history]),
        amendable=licence.state == LicenceState.active, cancellable=licence.state == LicenceState.awaiting_payment, done=DONE.get(request.query_params.get("done", "")),
        error=error,
        form=form, values=values or {},
    )


@router.get("/licences/{licence_id}", response_class=HTMLResponse)
def licence_page(request: Request, licence_id: str, staff: ConsoleStaffMayLicensing, session: SessionDep) -> HTMLResponse:
    return _licence_page(request, session, staff, licence_id)


def act_on_licence(request: Request, session, staff: Staff, licence_id: str, form: str, values: dict, action,
                   *, done: str) -> Response:
    """Run a licence page's form: back to the page saying `done`, or the page again with the error and the form's values."""
    error = attempt(session, action)
    if error:
        return _licence_page(request, session, staff, licence_id, error=error, form=form, values=values)
    return views.redirect(f"/console/licences/{licence_id}?done={done}")


def amend_changes(licence: Licence, *, ends_on: str, monthly_quota: str, territories: str, use: str,
                  conditions: str, max_live_articles: str | None = None) -> dict[str, Any]:
    """The form's fields as service changes: a field left as the licence has it is not a change."""
    changes: dict[str, Any] = {}
    day = _day(ends_on, "the end date")
    if day is not None and day != licence.ends_at.date():
        changes["ends_at"] = datetime.combine(day, licence.ends_at.timetz() if licence.ends_at.tzinfo else time.min,
                                              tzinfo=licence.ends_at.tzinfo or UTC)
    if monthly_quota.strip().lower() in ("", "none", "unlimited"):
        if licence.monthly_quota is not None and monthly_quota.strip():
            changes["monthly_quota"] = None
    else:
        changes["monthly_quota"] = whole_number(monthly_quota, "deliveries")
    if territories.strip():
        changes["territories"] = [t for t in territories.replace(",", " ").split() if t]
    if use:
        changes["use"] = use
    changes["conditions"] = views.lines(conditions)
    if max_live_articles is not None:  # the form showed the cap field (an empty form value reads as absent): empty lifts it
        changes["max_live_articles"] = whole_number(max_live_articles, "articles live at a time")
    return changes


@router.post("/licences/{licence_id}/amend", response_class=HTMLResponse)
def amend(request: Request, licence_id: str, staff: PostingStaffMayLicensing, session: SessionDep,
          ends_on: Annotated[str, Form()] = "", monthly_quota: Annotated[str, Form()] = "",
          territories: Annotated[str, Form()] = "", use: Annotated[str, Form()] = "",
          conditions: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
          price_difference: Annotated[str, Form()] = "", max_live_articles: Annotated[str, Form()] = "",
          cap_shown: Annotated[str, Form()] = ""):
    values = {"ends_on": ends_on, "monthly_quota": monthly_quota, "territories": territories, "use": use,
              "conditions": conditions, "reason": reason, "price_difference": price_difference,
              "max_live_articles": max_live_articles}

    def act() -> None:
        licence = found(licensing.get_licence, session, licence_id)
        changes = amend_changes(licence, ends_on=ends_on, monthly_quota=monthly_quota, territories=territories,
                                use=use, conditions=conditions,
                                max_live_articles=max_live_articles if cap_shown else None)
        licensing.amend(session, licence_id, changes=changes, reason=reason, actor=Actor("staff", staff.user.id),
                         price_difference=_signed_amount(price_difference, licence.currency))

    return act_on_licence(request, session, staff, licence_id, "amend", values, act, done="amended")


@router.post("/licences/{licence_id}/quota-grants", response_class=HTMLResponse)
def grant_quota(request: Request, licence_id: str, staff: PostingStaffMayLicensing, session: SessionDep,
                extra: Annotated[str, Form()] = "", until: Annotated[str, Form()] = "",
                reason: Annotated[str, Form()] = "", fee: Annotated[str, Form()] = ""):
    values = {"extra": extra, "until": until, "reason": reason, "fee": fee}

    def act() -> None:
        licence = found(licensing.get_licence, session, licence_id)
        day = _day(until, "the grant's end")
        if day is None:
            raise BadDate("Say until when the extra quota runs.")
        licensing.grant_quota(
            session, licence_id, extra=whole_number(extra, "deliveries") or 0,
            expires_at=datetime.combine(day, time(23, 59, 59), tzinfo=UTC), reason=reason,
            fee=views.parse_amount(fee, licence.currency) or 0, actor=Actor("staff", staff.user.id))

    return act_on_licence(request, session, staff, licence_id, "grant", values, act, done="granted")
