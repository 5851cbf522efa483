"""The licence request form, described as data so a partner's UI renders it without hard-coding."""

from __future__ import annotations

from typing import Any

import pycountry
from sqlmodel import Session, col, select

from api.catalogue.models import Article, ArticleStatus
from api.licensing.models import ScopeKind, Use
from api.licensing.quotes import BILLING_MODES, USE_LABELS
from api.licensing.ratecard import RateCard, current_row

# Offered as a list for convenience; any valid BCP 47 tag is accepted.
COMMON_LANGUAGES = ("en", "ar", "fr", "es", "de", "it", "pt", "tr", "fa", "ur", "he", "ru", "zh", "nl", "sv",
                    "id", "ms", "hi", "bn", "sw")
SUGGESTED_MONTHS = (1, 3, 6, 12, 24, 36)

SCOPE_LABELS = {ScopeKind.article: "One article", ScopeKind.bundle: "A list of articles",
                ScopeKind.section_feed: "A section feed (everything in a section during the period)",
                ScopeKind.catalogue: "The whole catalogue during the period"}
BILLING_LABELS = {"one_off": "One payment", "subscription": "Monthly subscription", "usage": "Per article used"}


def _option(value: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "label": label, **extra}


def sections(session: Session) -> list[str]:
    rows = session.exec(select(col(Article.section)).where(col(Article.section).is_not(None),
                                                      Article.status != ArticleStatus.withdrawn).distinct()).all()
    return sorted(r for r in rows if r)


def describe(session: Session) -> dict[str, Any]:
    """Fields (name, type, required, options, limits) and the current rate card."""
    row = current_row(session)
    card, version = RateCard.model_validate(row.card), row.version
    countries = sorted(pycountry.countries, key=lambda c: c.alpha_2)
    languages = []
    for code in COMMON_LANGUAGES:
        lang = pycountry.languages.get(alpha_2=code)
        languages.append(_option(code, lang.name if lang else code))
    fields: list[dict[str, Any]] = [
        {"name": "scope", "type": "enum", "required": True, "description": "What you want to republish.",
         "options": [_option(s, SCOPE_LABELS[s], billing_modes=list(BILLING_MODES[s])) for s in ScopeKind]},
        {"name": "article_ids", "type": "array[string]", "required": False,
         "description": f"For scope article (exactly one) or bundle (2 to {card.max_bundle_articles}).",
         "min_items": 1, "max_items": card.max_bundle_articles},
        {"name": "section", "type": "enum", "required": False, "description": "For scope section_feed.",
         "options": [_option(s, s) for s in sections(session)]},
        {"name": "use", "type": "enum", "required": True, "description": "Where the content will appear.",
         "options": [_option(u, USE_LABELS[u], multiplier_bp=card.use_multipliers_bp[u]) for u in Use]},
        {"name": "territories", "type": "array[string]", "format": "ISO 3166-1 alpha-2", "required": True,
         "description": "Countries where the content will be published.", "min_items": 1,
         "options": [_option(c.alpha_2, c.name, zone=card.zone_for([c.alpha_2]).name) for c in countries]},
        {"name": "language", "type": "string", "format": "BCP 47", "required": False, "default": "en",
         "description": "Language the content is published in; any valid BCP 47 tag.", "options": languages},
        {"name": "translation", "type": "boolean", "required": False, "default": False,
         "description": f"You translate the article (+{card.translation_surcharge_bp / 100:g}%)."},
        {"name": "starts_at", "type": "datetime", "format": "ISO 8601 with offset", "required": False,
         "description": "Start of the licence period; defaults to now. Today or later."},
        {"name": "period_months", "type": "integer", "required": False, "minimum": 1, "maximum": card.max_months,
         "description": "Length of the period in months (or send ends_at instead).",
         "options": [_option(str(m), f"{m} month{'s' if m > 1 else ''}") for m in SUGGESTED_MONTHS if m <= card.max_months]},
        {"name": "ends_at", "type": "datetime", "format": "ISO 8601 with offset", "required": False,
         "description": "End of the period (instead of period_months)."},
        {"name": "audience_size", "type": "integer", "required": True, "minimum": 1, "maximum": card.max_audience,
         "description": "Monthly readers, viewers or listeners.",
         "options": [_option(t.name, t.label, max_audience=t.max_audience, multiplier_bp=t.multiplier_bp)
                     for t in card.audience_tiers]},
        {"name": "billing_mode", "type": "enum", "required": False,
         "description": "Feeds are a monthly subscription by default, or per article used (usage).",
         "options": [_option(m, BILLING_LABELS[m]) for m in ("one_off", "subscription", "usage")]},
        {"name": "max_live_articles", "type": "integer", "required": False, "minimum": 1, "maximum": 10_000,
         "description": "Articles live at a time (\"5 articles at a time\"): retire a copy to fetch a new one "
                        "beyond it. Leave empty for no cap; it does not change the price."},
        {"name": "publication_url", "type": "url", "required": False, "description": "Where it will be published."},
        {"name": "notes", "type": "text", "required": False, "max_length": 2000,
         "description": "Anything the licensing desk should know (requests with notes are read by a person)."},
    ]
    return {"fields": fields, "rate_card_version": version,
            "rate_card": card.model_dump(mode="json"), "rate_card_published_at": row.created_at}
