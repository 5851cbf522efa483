"""The licence request form as JSON Schema 2020-12, for off-the-shelf form libraries (a CMS
plug-in, the republish page). Built from the form description (`form.describe`) and the rate
card, so the options, labels and limits have one source; the conditional rules (what each
scope needs, `period_months` or `ends_at`) mirror `quotes.check_terms`, which stays the judge."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api.licensing.form import describe
from api.licensing.models import ScopeKind
from api.licensing.quotes import BILLING_MODES
from api.licensing.ratecard import RateCard

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_PATH = "/v1/licence-requests/form/schema"

# Titles a form shows as the field's label (the description is its help text).
TITLES = {
    "scope": "What to republish", "article_ids": "Articles", "section": "Section", "use": "Use",
    "territories": "Territories", "language": "Language", "translation": "Translation",
    "starts_at": "Start", "period_months": "Period (months)", "ends_at": "End",
    "audience_size": "Audience size", "billing_mode": "Billing", "publication_url": "Publication URL",
    "max_live_articles": "Articles live at a time",
    "notes": "Notes for the licensing desk",
}


def _choices(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"const": o["value"], "title": o["label"]} for o in options]


def _property(field: dict[str, Any], card: RateCard) -> dict[str, Any]:
    name = field["name"]
    prop: dict[str, Any] = {"title": TITLES[name], "description": field["description"]}
    if "default" in field:
        prop["default"] = field["default"]
    options: list[dict[str, Any]] = field.get("options") or []
    if name == "article_ids":
        prop.update(type="array", items={"type": "string", "minLength": 1}, uniqueItems=True,
                    maxItems=card.max_bundle_articles)
    elif name == "territories":
        prop.update(type="array", items={"type": "string", "oneOf": _choices(options)}, minItems=1, uniqueItems=True)
    elif name == "language":
        # Any BCP 47 tag is accepted: the common ones are suggestions, not an enum.
        prop.update(type="string", minLength=2, maxLength=35, examples=[o["value"] for o in options])
    elif name in ("starts_at", "ends_at"):
        prop.update(type="string", format="date-time")
    elif name == "period_months":
        prop.update(type="integer", minimum=field["minimum"], maximum=field["maximum"],
                    examples=[int(o["value"]) for o in options])
    elif name == "audience_size":
        prop.update(type="integer", minimum=1, maximum=card.max_audience, oneOf=_bands(card))
    elif name == "max_live_articles":
        prop.update(type="integer", minimum=field["minimum"], maximum=field["maximum"])
    elif name == "translation":
        prop.update(type="boolean")
    elif name == "publication_url":
        prop.update(type="string", format="uri", pattern="^https?://")
    elif name == "notes":
        prop.update(type="string", maxLength=field["max_length"])
    else:  # scope, section, use, billing_mode: a choice
        prop.update(type="string", oneOf=_choices(options) if options else [])
        if not options:  # no sections in the catalogue yet: nothing to choose
            prop.pop("oneOf")
    return prop


def _bands(card: RateCard) -> list[dict[str, Any]]:
    """The audience tiers as disjoint integer ranges, each titled with its label."""
    bands, low = [], 1
    for tier in card.audience_tiers:
        high = min(tier.max_audience or card.max_audience, card.max_audience)
        bands.append({"title": tier.label, "minimum": low, "maximum": high})
        low = high + 1
        if low > card.max_audience:
            break
    return bands


def _scope_rules(card: RateCard) -> list[dict[str, Any]]:
    def when(scope: ScopeKind, then: dict[str, Any]) -> dict[str, Any]:
        modes = {"billing_mode": {"enum": [str(m) for m in BILLING_MODES[scope]]}}
        return {"if": {"properties": {"scope": {"const": str(scope)}}, "required": ["scope"]},
                "then": {**then, "properties": {**then.get("properties", {}), **modes}}}

    no_section = {"not": {"required": ["section"]}}
    return [
        when(ScopeKind.article, {"required": ["article_ids"], **no_section,
                                 "properties": {"article_ids": {"minItems": 1, "maxItems": 1}}}),
        when(ScopeKind.bundle, {"required": ["article_ids"], **no_section,
                                "properties": {"article_ids": {"minItems": 2, "maxItems": card.max_bundle_articles}}}),
        when(ScopeKind.section_feed, {"required": ["section"], "properties": {"article_ids": {"maxItems": 0}}}),
        when(ScopeKind.catalogue, {**no_section, "properties": {"article_ids": {"maxItems": 0}}}),
    ]


def json_schema(session: Session, *, base_url: str) -> dict[str, Any]:
    """A 2020-12 schema of the `POST /v1/licence-requests` body."""
    form = describe(session)
    card = RateCard.model_validate(form["rate_card"])
    fields = form["fields"]
    return {
        "$schema": DIALECT,
        "$id": f"{base_url}{SCHEMA_PATH}",
        "title": "Licence request",
        "description": "Ask for a licence to republish. Send it to POST /v1/licence-requests (or price it first with "
                       "POST /v1/quotes).",
        "type": "object",
        "properties": {f["name"]: _property(f, card) for f in fields},
        "required": [f["name"] for f in fields if f["required"]],
        "additionalProperties": False,
        # The period is given one way: a number of months or an end date.
        "oneOf": [
            {"title": "A number of months", "required": ["period_months"], "not": {"required": ["ends_at"]}},
            {"title": "An end date", "required": ["ends_at"], "not": {"required": ["period_months"]}},
        ],
        "allOf": _scope_rules(card),
        "x-rate-card-version": form["rate_card_version"],
    }
