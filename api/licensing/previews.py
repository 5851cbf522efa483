"""What a rate card edit or an auto-approval rule would do, before it is published or saved.

Both reuse the rules themselves — `quotes.price` for the card, `autoapproval.rule_matches` for a
rule — on typical or recent requests, so a preview cannot disagree with what will happen.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from sqlmodel import Session, col, select

from api.core.db import utcnow
from api.core.errors import SyndicateError
from api.core.months import add_months
from api.licensing.autoapproval import normalise, rule_matches
from api.licensing.models import AutoApprovalRule, BillingMode, LicenceRequest, ScopeKind, Use
from api.licensing.quotes import Terms, price
from api.licensing.ratecard import RateCard, current_card, validate_card
from api.partners.models import Partner

DRY_RUN_SIZE = 100


@dataclass(frozen=True)
class Typical:
    label: str
    scope: ScopeKind
    use: Use
    territories: tuple[str, ...]
    audience: int
    months: int
    mode: BillingMode
    articles: int = 1
    translation: bool = False


TYPICAL = (
    Typical("One article on a UK website, 1 month", ScopeKind.article, Use.web, ("GB",), 10_000, 1, BillingMode.one_off),
    Typical("Five articles in print in France and Germany, 3 months", ScopeKind.bundle, Use.print, ("FR", "DE"),
            250_000, 3, BillingMode.one_off, articles=5),
    Typical("One article translated for a US app, 12 months", ScopeKind.article, Use.app, ("US",), 1_000_000, 12,
            BillingMode.one_off, translation=True),
    Typical("A section feed on the web, per month", ScopeKind.section_feed, Use.web, ("GB",), 50_000, 6,
            BillingMode.subscription),
    Typical("The whole catalogue, per article used", ScopeKind.catalogue, Use.newsletter, ("AE",), 20_000, 12,
            BillingMode.usage),
)


@dataclass(frozen=True)
class PricePreview:
    label: str
    currency: str
    before: int | None
    after: int | None
    interval: str


def _terms(t: Typical) -> Terms:
    start = utcnow()
    return Terms(scope=t.scope, use=t.use, territories=list(t.territories), audience_size=t.audience,
                 article_ids=[f"art_typical_{i}" for i in range(t.articles)],
                 section="news" if t.scope == ScopeKind.section_feed else None, language="en",
                 translation=t.translation, starts_at=start, ends_at=add_months(start, t.months), months=t.months,
                 billing_mode=t.mode)


def _price(card: RateCard, t: Typical, currency: str, version: int) -> int | None:
    if t.months > card.max_months:
        return None  # longer than the card offers: a quote would refuse it (InvalidPeriod)
    try:
        return price(card, _terms(t), currency=currency, version=version).amount
    except (SyndicateError, KeyError):
        return None  # the card does not price this currency or combination


def preview_card(session: Session, card: RateCard) -> list[PricePreview]:
    """What typical requests cost on the current card and on `card`, in every currency of either.
    Raises InvalidRateCard exactly as publishing would."""
    card = validate_card(card)
    current, version = current_card(session)
    currencies = list(dict.fromkeys([*current.currencies, *card.currencies]))
    interval = {BillingMode.one_off: "once", BillingMode.subscription: "a month", BillingMode.usage: "an article"}
    return [PricePreview(t.label, c, _price(current, t, c, version), _price(card, t, c, version + 1), interval[t.mode])
            for t in TYPICAL for c in currencies]


def dry_run(session: Session, *, values: dict[str, Any], limit: int = DRY_RUN_SIZE) -> list[tuple[LicenceRequest, bool]]:
    """The last `limit` requests (newest first), each with whether a rule with `values` would have
    approved it. The partner is read as it is now (verification may have changed since)."""
    rule = AutoApprovalRule(**{"name": "dry run", "enabled": True, **normalise(values)})
    rule.enabled = True
    requests = list(session.exec(select(LicenceRequest).order_by(col(LicenceRequest.created_at).desc(),
                                                                 col(LicenceRequest.id).desc()).limit(limit)).all())
    partners = {p.id: p for p in session.exec(select(Partner).where(
        col(Partner.id).in_({r.partner_id for r in requests}))).all()} if requests else {}
    return [(r, rule_matches(rule, r, partners[r.partner_id])) for r in requests]


