"""Checking what a partner asks for, and pricing it line by line.

Pricing is integer arithmetic: a base price in minor units, then each multiplier in basis
points applied in a fixed order (use, audience, territory, duration, translation), rounding
half up to the minor unit after every step. The same terms and rate card version always give
the same price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import pycountry
from sqlmodel import Session, col, select

from api.catalogue.models import Article, ArticleStatus
from api.catalogue.visibility import is_available
from api.core.db import utcnow
from api.core.months import add_months, months_between
from api.core.money import format_money as _money
from api.licensing.errors import (
    ArticleNotLicensable, ArticleNotYetPublished, AudienceOutOfRange, BillingModeNotOffered, CurrencyNotPriced,
    EmptyScope, InvalidPeriod, PeriodInPast, ScopeMismatch, UnknownArticle, UnknownLanguage, UnknownSection,
    UnknownTerritory, WithdrawnArticle,
)
from api.licensing.models import BillingMode, ScopeKind, Use
from api.licensing.ratecard import RateCard, current_card

BP = 10_000

# Billing modes offered per scope; the first is the default.
BILLING_MODES: dict[ScopeKind, tuple[BillingMode, ...]] = {
    ScopeKind.article: (BillingMode.one_off,),
    ScopeKind.bundle: (BillingMode.one_off,),
    ScopeKind.section_feed: (BillingMode.subscription, BillingMode.usage),
    ScopeKind.catalogue: (BillingMode.subscription, BillingMode.usage),
}
USE_LABELS = {Use.web: "Website", Use.print: "Print", Use.broadcast: "Broadcast (TV, radio, podcast)",
              Use.newsletter: "Newsletter", Use.app: "Mobile app", Use.academic: "Academic / teaching"}


def use_name(code: object) -> str:
    """"web" -> "Website": the words the request form offers, for the portal and the console alike;
    an unknown code as it is."""
    return USE_LABELS.get(str(code), str(code))  # type: ignore[call-overload]  # Use is a str enum: a plain str finds it
INTERVALS = {BillingMode.one_off: "once", BillingMode.subscription: "month", BillingMode.usage: "article"}


@dataclass
class TermsInput:
    """What a partner asks for, as sent (the schema has already checked types)."""

    scope: ScopeKind
    use: Use
    territories: list[str]
    audience_size: int
    article_ids: list[str] = field(default_factory=list)
    section: str | None = None
    language: str = "en"
    translation: bool = False
    starts_at: datetime | None = None
    period_months: int | None = None
    ends_at: datetime | None = None
    billing_mode: BillingMode | None = None
    max_live_articles: int | None = None


@dataclass
class Terms:
    """Checked, normalised terms: every article exists and is licensable, codes are canonical."""

    scope: ScopeKind
    use: Use
    territories: list[str]
    audience_size: int
    article_ids: list[str]
    section: str | None
    language: str
    translation: bool
    starts_at: datetime
    ends_at: datetime
    months: int
    billing_mode: BillingMode
    max_live_articles: int | None = None  # not priced: a cap limits the partner, not the fee


@dataclass
class QuoteLine:
    code: str
    label: str
    amount: int
    subtotal: int
    factor_bp: int | None = None


@dataclass
class Quote:
    currency: str
    amount: int
    billing_mode: BillingMode
    interval: str
    period_months: int
    estimated_total: int | None
    rate_card_version: int
    lines: list[QuoteLine]
    terms: Terms


def total_commitment(mode: BillingMode | str, amount: int, months: int) -> int | None:
    """What the partner commits to over the whole period: the fee (one-off), the monthly fee for
    every month (subscription). Usage billing has no bound (it depends on how many articles are
    used), so it has no total: None."""
    mode = BillingMode(mode)
    if mode == BillingMode.usage:
        return None
    if mode == BillingMode.subscription:
        return amount * months
    return amount


def check_terms(session: Session, data: TermsInput, card: RateCard) -> Terms:
    """Validate everything a request asks for; raise the specific problem for the first fault."""
    article_ids = _check_scope(session, data, card)
    territories = check_territories(data.territories)
    language = _check_language(data.language)
    if not 1 <= data.audience_size <= card.max_audience:
        raise AudienceOutOfRange(
            f"Give an audience_size from 1 to {card.max_audience:,}; larger audiences are priced by the licensing "
            "desk (write to us).", minimum=1, maximum=card.max_audience)
    starts_at, ends_at, months = _check_period(data, card)
    offered = BILLING_MODES[data.scope]
    mode = data.billing_mode or offered[0]
    if mode not in offered:
        raise BillingModeNotOffered(
            f"A {data.scope} licence is billed {' or '.join(offered)}, not {mode}.", offered=list(offered))
    return Terms(scope=data.scope, use=data.use, territories=territories, audience_size=data.audience_size,
                 article_ids=article_ids, section=data.section if data.scope == ScopeKind.section_feed else None,
                 language=language, translation=data.translation, starts_at=starts_at, ends_at=ends_at, months=months,
                 billing_mode=mode, max_live_articles=data.max_live_articles)


def _check_scope(session: Session, data: TermsInput, card: RateCard) -> list[str]:
    ids = list(dict.fromkeys(i.strip() for i in data.article_ids if i.strip()))
    if data.scope in (ScopeKind.article, ScopeKind.bundle):
        if data.section:
            raise ScopeMismatch(f"A {data.scope} scope lists article_ids; leave section out (or use scope section_feed).")
        if not ids:
            raise EmptyScope(f"A {data.scope} scope needs article_ids: the ids of the articles you want to republish.")
        if data.scope == ScopeKind.article and len(ids) != 1:
            raise ScopeMismatch(f"Scope 'article' takes exactly one article id; you sent {len(ids)}. Use scope 'bundle' for several.")
        if data.scope == ScopeKind.bundle and not 2 <= len(ids) <= card.max_bundle_articles:
            raise ScopeMismatch(f"A bundle has 2 to {card.max_bundle_articles} different articles; you sent {len(ids)}.")
        found = {a.id: a for a in session.exec(select(Article).where(col(Article.id).in_(ids))).all()}
        for article_id in ids:
            _check_article(found.get(article_id), article_id)
        return ids
    if ids:
        raise ScopeMismatch(f"A {data.scope} scope covers articles by itself; leave article_ids out.")
    if data.scope == ScopeKind.catalogue:
        if data.section:
            raise ScopeMismatch("A catalogue scope covers every section; leave section out (or use scope section_feed).")
        return []
    if not data.section or not data.section.strip():
        raise EmptyScope("A section_feed scope needs a section; GET /v1/licence-requests/form lists them.")
    exists = session.exec(select(Article.id).where(Article.section == data.section,
                                                   Article.status != ArticleStatus.withdrawn).limit(1)).first()
    if exists is None:
        raise UnknownSection(f"No section '{data.section}' in the catalogue; GET /v1/licence-requests/form lists the sections.",
                             section=data.section)
    return []


def _check_article(article: Article | None, article_id: str) -> None:
    if article is None:
        raise UnknownArticle(f"No article {article_id} in the catalogue; check the id against GET /v1/articles.",
                             article_id=article_id)
    if article.status == ArticleStatus.withdrawn:
        raise WithdrawnArticle(f"Article {article_id} was withdrawn by the publisher and can no longer be licensed; "
                               "remove it from article_ids.", article_id=article_id)
    if not article.licensable:
        raise ArticleNotLicensable(f"Article {article_id} is not offered for republication; remove it from article_ids.",
                                   article_id=article_id)
    if not is_available(article):
        raise ArticleNotYetPublished(f"Article {article_id} is not published yet; ask again after its embargo ends.",
                                     article_id=article_id)


def check_territories(codes: list[str]) -> list[str]:
    out: list[str] = []
    for raw in codes:
        code = raw.strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise UnknownTerritory(f"'{raw}' is not an ISO 3166-1 alpha-2 country code (for example GB, FR, US).",
                                   territory=raw)
        if code not in out:
            out.append(code)
    if not out:
        raise UnknownTerritory("List at least one territory as an ISO 3166-1 alpha-2 code (for example GB).")
    return out


def _check_language(tag: str) -> str:
    import langcodes  # imported when first used: not needed to start the server

    if not tag or not langcodes.tag_is_valid(tag.strip()):
        raise UnknownLanguage(f"'{tag}' is not a valid BCP 47 language tag (for example en, ar, fr-CA).", language=tag)
    return langcodes.standardize_tag(tag.strip())


def _check_period(data: TermsInput, card: RateCard) -> tuple[datetime, datetime, int]:
    now = utcnow()
    starts_at = data.starts_at or now
    if (data.period_months is None) == (data.ends_at is None):
        raise InvalidPeriod("Give the period as either period_months or ends_at (one of them, not both).")
    # Starting earlier today is fine (a partner's clock, or a story already running).
    if starts_at < datetime.combine(now.date(), time.min, tzinfo=now.tzinfo):
        raise PeriodInPast(f"starts_at {starts_at.isoformat()} is in the past; start today or later.",
                           starts_at=starts_at.isoformat())
    if data.period_months is not None:
        if data.period_months > card.max_months:
            raise InvalidPeriod(f"The longest period offered is {card.max_months} months.", max_months=card.max_months)
        return starts_at, add_months(starts_at, data.period_months), data.period_months
    ends_at = data.ends_at
    assert ends_at is not None
    if ends_at <= now:
        raise PeriodInPast(f"ends_at {ends_at.isoformat()} is in the past; choose a later end.", ends_at=ends_at.isoformat())
    if ends_at <= starts_at:
        raise InvalidPeriod("ends_at must be after starts_at.")
    if ends_at - starts_at < timedelta(days=1):
        raise InvalidPeriod("The shortest period is one day.")
    months = months_between(starts_at, ends_at, card.max_months)
    if months > card.max_months:
        raise InvalidPeriod(f"The longest period offered is {card.max_months} months.", max_months=card.max_months)
    return starts_at, ends_at, months


def _apply(subtotal: int, factor_bp: int) -> int:
    """subtotal x factor, rounded half up to the minor unit (all values are non-negative)."""
    return (subtotal * factor_bp + BP // 2) // BP



def months_label(months: int) -> str:
    """"1 month", "12 months": how a period reads in quote lines and on pages."""
    return f"{months} month{'' if months == 1 else 's'}"


def price(card: RateCard, terms: Terms, *, currency: str, version: int) -> Quote:
    """Price checked terms in `currency` with `card`, explaining every step."""
    if currency not in card.currencies:
        raise CurrencyNotPriced(
            f"Your account is billed in {currency}, which the rate card does not price ({', '.join(card.currencies)}); "
            "contact the licensing desk.", currency=currency)
    mode = terms.billing_mode
    if mode == BillingMode.usage:
        unit = card.usage_article_price[currency]
        base, label = unit, f"Per article used: {_money(unit, currency)}"
    elif terms.scope == ScopeKind.bundle:
        unit = card.bundle_article_price[currency]
        base, label = unit * len(terms.article_ids), f"{len(terms.article_ids)} articles x {_money(unit, currency)}"
    else:
        base = card.base_prices(terms.scope)[currency]
        label = {ScopeKind.article: "One article", ScopeKind.section_feed: f"Section feed '{terms.section}', per month",
                 ScopeKind.catalogue: "Whole catalogue, per month"}[terms.scope]
        label = f"{label}: {_money(base, currency)}"
    lines = [QuoteLine(code="base", label=label, amount=base, subtotal=base)]

    tier = card.tier_for(terms.audience_size)
    zone = card.zone_for(terms.territories)
    steps: list[tuple[str, str, int]] = [
        ("use", f"Use: {USE_LABELS[terms.use]}", card.use_multipliers_bp[terms.use]),
        ("audience", f"Audience: {tier.label} ({terms.audience_size:,})", tier.multiplier_bp),
        ("territory", f"Territory: {zone.label} ({', '.join(terms.territories)})", zone.multiplier_bp),
    ]
    if mode == BillingMode.one_off:
        band = card.band_for(terms.months)
        steps.append(("duration", f"Period: {months_label(terms.months)}, priced as up to {months_label(band.max_months)}",
                      band.multiplier_bp))
    if terms.translation:
        steps.append(("translation", f"Translation into {terms.language}", BP + card.translation_surcharge_bp))
    subtotal = base
    for code, step_label, factor in steps:
        new = _apply(subtotal, factor)
        lines.append(QuoteLine(code=code, label=f"{step_label}: x{factor / BP:.2f}", amount=new - subtotal,
                               subtotal=new, factor_bp=factor))
        subtotal = new
    estimated = total_commitment(mode, subtotal, terms.months)
    return Quote(currency=currency, amount=subtotal, billing_mode=mode, interval=INTERVALS[mode],
                 period_months=terms.months, estimated_total=estimated, rate_card_version=version, lines=lines,
                 terms=terms)


def quote(session: Session, data: TermsInput, *, currency: str) -> Quote:
    """Check and price a would-be request against the current rate card."""
    card, version = current_card(session)
    terms = check_terms(session, data, card)
    return price(card, terms, currency=currency, version=version)
