"""Console pages for the rate card and the auto-approval rules (role `licensing`).

The card is edited as a form (prices in major units per currency, multipliers as factors like
1.25), previewed on typical requests before it is published, and published only on top of the
version the editor read (a hidden `based_on` field: a stale tab gets the conflict, naming the newer
version). Rules are listed, created and edited, with a dry run on the last 100 requests. The same
services as the API: api/licensing/ratecard.py, autoapproval.py, previews.py.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.audit.service import Actor
from api.console import table_views as tables, views
from api.console.amendment_pages import whole_number
from api.console.deps import ConsoleStaffMayLicensing, found
from api.console.views import Staff
from api.core.errors import Invalid, SyndicateError
from api.deps import SessionDep
from api.licensing import service as licensing
from api.licensing.models import BillingMode, ScopeKind, Use
from api.licensing.service import MONEY_FIELDS, RateCard
from api.console.errors import BadRateCardForm

router = APIRouter()
BP = 10_000
PRICE_LABELS = {"article_price": "One article", "bundle_article_price": "Each article of a bundle",
                "section_feed_monthly": "Section feed, a month", "catalogue_monthly": "Whole catalogue, a month",
                "usage_article_price": "Each article used (per-article billing)"}


def major(amount: int | None, currency: str) -> str:
    """Minor units as an input value: 123456 GBP -> "1234.56"."""
    if amount is None:
        return ""
    return views.money(amount, currency).rsplit(" ", 1)[0].replace(",", "")


def factor(bp: int) -> str:
    return f"{Decimal(bp) / BP:.4f}".rstrip("0").rstrip(".") if bp % 100 else f"{bp / BP:.2f}"


def _bp(text: str, what: str) -> int:
    try:
        value = Decimal((text or "").strip()) * BP
    except InvalidOperation:
        raise BadRateCardForm(f"“{text}” is not a factor for {what}; type it like 1.25.") from None
    if value != value.to_integral_value() or value <= 0:
        raise BadRateCardForm(f"“{text}” for {what}: use a positive factor with at most 4 decimal places.")
    return int(value)


def card_from_form(form: dict[str, str], base: RateCard) -> RateCard:
    """The edited card: `base` with every field the form sent replaced (rows keep their names)."""
    data: dict[str, Any] = base.model_dump(mode="json")
    currencies = [c.strip().upper() for c in form.get("currencies", "").replace(",", " ").split() if c.strip()]
    data["currencies"] = currencies
    for name in MONEY_FIELDS:
        prices: dict[str, int] = {}
        for currency in currencies:
            text = form.get(f"price.{name}.{currency}", "")
            amount = views.parse_amount(text, currency)
            if amount is None:
                raise BadRateCardForm(f"Give a price in {currency} for “{PRICE_LABELS[name]}”.")
            prices[currency] = amount
        data[name] = prices
    data["use_multipliers_bp"] = {u.value: _bp(form.get(f"use.{u.value}", ""), f"{u.value} use") for u in Use}
    for i, tier in enumerate(data["audience_tiers"]):
        tier["label"] = form.get(f"tier.{i}.label", tier["label"]).strip() or tier["label"]
        tier["max_audience"] = whole_number(form.get(f"tier.{i}.max_audience", ""), f"audience tier {tier['label']}")
        tier["multiplier_bp"] = _bp(form.get(f"tier.{i}.factor", ""), f"audience tier {tier['label']}")
    for i, zone in enumerate(data["territory_zones"]):
        zone["label"] = form.get(f"zone.{i}.label", zone["label"]).strip() or zone["label"]
        countries = [c.strip().upper() for c in form.get(f"zone.{i}.countries", "").replace(",", " ").split()]
        zone["countries"] = countries or None
        zone["multiplier_bp"] = _bp(form.get(f"zone.{i}.factor", ""), f"territory zone {zone['label']}")
    for i, band in enumerate(data["duration_bands"]):
        band["max_months"] = whole_number(form.get(f"band.{i}.max_months", ""), "a duration band") or band["max_months"]
        band["multiplier_bp"] = _bp(form.get(f"band.{i}.factor", ""), f"the band up to {band['max_months']} months")
    try:
        surcharge = Decimal(form.get("translation", "").strip() or "0") * 100
    except InvalidOperation:
        raise BadRateCardForm("The translation surcharge is a percentage, like 25.") from None
    if surcharge < 0 or surcharge != surcharge.to_integral_value():
        raise BadRateCardForm("The translation surcharge is a percentage with at most 2 decimal places, like 25.")
    data["translation_surcharge_bp"] = int(surcharge)
    try:
        return RateCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRateCardForm(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _page(request: Request, session, staff: Staff, *, card: RateCard, based_on: int, note: str = "",
          preview: list | None = None, error: SyndicateError | None = None, done: str | None = None) -> HTMLResponse:
    current = licensing.current_rate_card(session)
    return views.render(
        request, "rate_card.html", staff=staff, card=card, based_on=based_on, current=current, note=note,
        preview=preview, price_labels=PRICE_LABELS, uses=list(Use), factor=factor, major=major, done=done,
        error=error,
    )


@router.get("/rate-card", response_class=HTMLResponse)
def rate_card_page(request: Request, staff: ConsoleStaffMayLicensing, session: SessionDep) -> HTMLResponse:
    row = found(licensing.current_rate_card, session)
    done = f"Rate card version {row.version} published." if request.query_params.get("done") else None
    return _page(request, session, staff, card=RateCard.model_validate(row.card), based_on=row.version, done=done)


@router.post("/rate-card", response_class=HTMLResponse)
async def rate_card_post(request: Request, staff: ConsoleStaffMayLicensing, session: SessionDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    views.check_csrf(staff, form.get("csrf_token"))
    based_on = whole_number(form.get("based_on", ""), "the version") or 0
    base = RateCard.model_validate(found(licensing.get_rate_card_version, session, based_on).card)
    note = form.get("note", "").strip()
    try:
        card = card_from_form(form, base)
        preview = licensing.preview_rate_card(session, card)
        if form.get("action") == "publish":
            licensing.publish_rate_card(session, card, actor=Actor("staff", staff.user.id), note=note or None, based_on=based_on)
            return views.redirect("/console/rate-card?done=published")
    except SyndicateError as error:
        session.rollback()
        return _page(request, session, staff, card=base, based_on=based_on, note=note, error=error)
    return _page(request, session, staff, card=card, based_on=based_on, note=note, preview=preview)


# --- auto-approval rules ---------------------------------------------------------------------


def _rule_values(form: dict[str, str]) -> dict[str, Any]:
    def listed(prefix: str) -> list[str]:
        return [k.split(".", 1)[1] for k, v in form.items() if k.startswith(prefix + ".") and v]

    amounts: dict[str, int] = {}
    for key, text in form.items():
        if key.startswith("max_amount.") and text.strip():
            currency = key.split(".", 1)[1]
            amounts[currency] = views.parse_amount(text, currency) or 0
    name = form.get("name", "").strip()
    if not name:
        raise Invalid("Give the rule a name the desk will recognise.")
    return {"name": name, "enabled": bool(form.get("enabled")), "require_verified_partner": bool(form.get("verified")),
            "require_standard_terms": bool(form.get("standard_terms")), "uses": listed("use"),
            "scopes": listed("scope"), "billing_modes": listed("mode"), "max_amounts": amounts,
            "max_audience": whole_number(form.get("max_audience", ""), "the audience"),
            "max_months": whole_number(form.get("max_months", ""), "the months")}


def _rules_page(request: Request, session, staff: Staff, *, values: dict | None = None, editing: str | None = None,
                dry_run: list | None = None, error: SyndicateError | None = None, done: str | None = None):
    rules, _ = licensing.list_rules(session, limit=100)
    card, _version = licensing.current_card(session)
    names = {}
    if dry_run:
        names = tables.partner_names(session, [r.partner_id for r, _m in dry_run])
    return views.render(
        request, "rules.html", staff=staff, rules=rules, values=values, editing=editing, dry_run=dry_run,
        partner_names=names, approved_count=sum(m for _r, m in dry_run or []), currencies=card.currencies, uses=list(Use), scopes=list(ScopeKind),
        modes=[m for m in BillingMode if m != BillingMode.free], major=major, done=done,
        error=error)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, staff: ConsoleStaffMayLicensing, session: SessionDep, edit: str | None = None) -> HTMLResponse:
    values = None
    if edit:
        rule = found(licensing.get_rule, session, edit)
        values = rule.model_dump(mode="json")
    done = {"saved": "Rule saved: new requests are tried against it now."}.get(request.query_params.get("done", ""))
    return _rules_page(request, session, staff, values=values, editing=edit, done=done)


@router.post("/rules", response_class=HTMLResponse)
async def rules_post(request: Request, staff: ConsoleStaffMayLicensing, session: SessionDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    views.check_csrf(staff, form.get("csrf_token"))
    editing = form.get("rule_id") or None
    shown: dict[str, Any] = {"name": form.get("name", ""), "enabled": bool(form.get("enabled"))}
    try:
        values = _rule_values(form)
        shown = values
        if form.get("action") == "dry_run":
            results = licensing.dry_run_rule(session, values=values)
            return _rules_page(request, session, staff, values=values, editing=editing, dry_run=results)
        actor = Actor("staff", staff.user.id)
        if editing:
            licensing.update_rule(session, editing, values=values, actor=actor)
        else:
            licensing.create_rule(session, values=values, actor=actor)
    except SyndicateError as error:
        session.rollback()
        return _rules_page(request, session, staff, values=shown, editing=editing, error=error)
    return views.redirect("/console/rules?done=saved")
