"""The rate card: prices per currency, and the multipliers that turn terms into a price.

A rate card is a document (`RateCard`) stored as an immutable, numbered version
(`RateCardVersion`); staff edits publish a new version, quotes and requests record the version
they were priced with. Multipliers are integers in basis points (10000 = x1.00) so that pricing
is integer arithmetic from end to end.
"""

from __future__ import annotations

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.db import session_scope
from api.core.fields import Code
from api.licensing.errors import InvalidRateCard, RateCardNotFound, RateCardNotPublished, RateCardVersionConflict
from api.licensing.models import RateCardVersion, ScopeKind, Use

# Integers are StrictInt: pydantic's lax mode would read "2500", 2500.0 and true (as 1) as integers.
Money = dict[str, StrictInt]


class AudienceTier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=100)
    max_audience: StrictInt | None = Field(default=None, ge=1, description="Inclusive upper bound; null on the last tier.")
    multiplier_bp: StrictInt = Field(ge=1, le=1_000_000, description="Basis points: 10000 is x1.00.")


class TerritoryZone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=100)
    countries: list[Code] | None = Field(
        max_length=300,
        default=None, description="ISO 3166-1 alpha-2 codes; null on the one zone that covers every other country.")
    multiplier_bp: StrictInt = Field(ge=1, le=1_000_000)


class DurationBand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_months: StrictInt = Field(ge=1, le=120, description="Periods up to this many months (inclusive) use this band.")
    multiplier_bp: StrictInt = Field(ge=1, le=1_000_000)


class RateCard(BaseModel):
    """Everything a price is made of. Prices are integer minor units, one entry per currency."""

    model_config = ConfigDict(extra="forbid")
    currencies: list[Code] = Field(min_length=1, max_length=50, description="ISO 4217 codes every price is given in.")
    article_price: Money = Field(description="One article, one-off.")
    bundle_article_price: Money = Field(description="Each article of a bundle, one-off.")
    section_feed_monthly: Money = Field(description="A section feed, per month.")
    catalogue_monthly: Money = Field(description="The whole catalogue, per month.")
    usage_article_price: Money = Field(description="Each article used under per-article (usage) billing.")
    use_multipliers_bp: dict[Use, StrictInt]
    audience_tiers: list[AudienceTier] = Field(min_length=1)
    territory_zones: list[TerritoryZone] = Field(min_length=1)
    duration_bands: list[DurationBand] = Field(
        min_length=1, description="One-off scopes: multiplier by period length. The last band's max_months is the longest period offered.")
    translation_surcharge_bp: StrictInt = Field(ge=0, le=1_000_000, description="Added when the partner translates: 2500 is +25%.")
    max_audience: StrictInt = Field(ge=1, description="Largest audience the card prices; larger requests need a conversation.")
    max_bundle_articles: StrictInt = Field(default=100, ge=2, le=1000)

    def base_prices(self, scope: ScopeKind) -> Money:
        return {
            ScopeKind.article: self.article_price, ScopeKind.bundle: self.bundle_article_price,
            ScopeKind.section_feed: self.section_feed_monthly, ScopeKind.catalogue: self.catalogue_monthly,
        }[scope]

    @property
    def max_months(self) -> int:
        return self.duration_bands[-1].max_months

    def tier_for(self, audience: int) -> AudienceTier:
        for tier in self.audience_tiers:
            if tier.max_audience is None or audience <= tier.max_audience:
                return tier
        return self.audience_tiers[-1]  # pragma: no cover - validate_card guarantees a catch-all tier

    def zone_for(self, territories: list[str]) -> TerritoryZone:
        """The widest-priced zone among those covering the territories."""
        covering = [self._zone_of(code) for code in territories]
        return max(covering, key=lambda zone: zone.multiplier_bp)

    def _zone_of(self, code: str) -> TerritoryZone:
        for zone in self.territory_zones:
            if zone.countries is not None and code in zone.countries:
                return zone
        return next(zone for zone in self.territory_zones if zone.countries is None)

    def band_for(self, months: int) -> DurationBand:
        return next(band for band in self.duration_bands if months <= band.max_months)


MONEY_FIELDS = ("article_price", "bundle_article_price", "section_feed_monthly", "catalogue_monthly", "usage_article_price")


def validate_card(card: RateCard) -> RateCard:
    """Cross-field checks a schema cannot express; raises InvalidRateCard naming what to fix."""
    currencies = [c.upper() for c in card.currencies]
    problems: list[str] = []
    for code in currencies:
        if pycountry.currencies.get(alpha_3=code) is None:
            problems.append(f"'{code}' is not an ISO 4217 currency")
    if len(set(currencies)) != len(currencies):
        problems.append("currencies repeat")
    for name in MONEY_FIELDS:
        prices = {k.upper(): v for k, v in getattr(card, name).items()}
        if set(prices) != set(currencies):
            problems.append(f"{name} must give exactly one price for each of {', '.join(currencies)}")
        if any(v < 0 for v in prices.values()):
            problems.append(f"{name} has a negative price")
    missing_uses = sorted(set(Use) - set(card.use_multipliers_bp))
    if missing_uses:
        problems.append(f"use_multipliers_bp is missing {', '.join(missing_uses)}")
    bounds = [t.max_audience for t in card.audience_tiers]
    if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
        problems.append("only the last audience tier has no max_audience")
    elif (capped := [b for b in bounds[:-1] if b is not None]) != sorted(capped) or len(set(capped)) != len(capped):
        problems.append("audience tiers must be in increasing order of max_audience")
    catch_all = [z for z in card.territory_zones if z.countries is None]
    if len(catch_all) != 1:
        problems.append("exactly one territory zone must have countries null (every other country)")
    seen: dict[str, str] = {}
    for zone in card.territory_zones:
        for code in zone.countries or []:
            if pycountry.countries.get(alpha_2=code) is None or code != code.upper():
                problems.append(f"zone {zone.name}: '{code}' is not an ISO 3166-1 alpha-2 code")
            elif code in seen:
                problems.append(f"{code} is in zones {seen[code]} and {zone.name}")
            seen[code] = zone.name
    months = [b.max_months for b in card.duration_bands]
    if months != sorted(set(months)):
        problems.append("duration bands must be in strictly increasing order of max_months")
    if problems:
        raise InvalidRateCard("Fix the rate card: " + "; ".join(problems) + ".", problems=problems)
    return card.model_copy(update={"currencies": currencies, **{name: {k.upper(): v for k, v in getattr(card, name).items()}
                                                                 for name in MONEY_FIELDS}})


# Zones are data: staff move countries between them by publishing a new version.
_REGIONAL = [
    # Europe
    "AD", "AL", "AT", "BA", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS",
    "SE", "SI", "SK", "SM", "UA", "VA",
    # Middle East and North Africa
    "AE", "BH", "DZ", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "LY", "MA", "OM", "PS", "QA", "SA", "SY", "TN",
    "TR", "YE",
]

DEFAULT_RATE_CARD = RateCard(
    currencies=["GBP", "EUR", "USD"],
    article_price={"GBP": 15000, "EUR": 17500, "USD": 19000},
    bundle_article_price={"GBP": 10000, "EUR": 11500, "USD": 12500},
    section_feed_monthly={"GBP": 60000, "EUR": 70000, "USD": 75000},
    catalogue_monthly={"GBP": 250000, "EUR": 290000, "USD": 315000},
    usage_article_price={"GBP": 4000, "EUR": 4600, "USD": 5000},
    use_multipliers_bp={Use.web: 10000, Use.print: 12500, Use.broadcast: 15000, Use.newsletter: 8000,
                        Use.app: 10000, Use.academic: 5000},
    audience_tiers=[
        AudienceTier(name="small", label="Up to 10,000", max_audience=10_000, multiplier_bp=10000),
        AudienceTier(name="medium", label="10,001 to 100,000", max_audience=100_000, multiplier_bp=15000),
        AudienceTier(name="large", label="100,001 to 1,000,000", max_audience=1_000_000, multiplier_bp=25000),
        AudienceTier(name="very_large", label="Over 1,000,000", max_audience=None, multiplier_bp=40000),
    ],
    territory_zones=[
        TerritoryZone(name="domestic", label="United Kingdom", countries=["GB"], multiplier_bp=10000),
        TerritoryZone(name="regional", label="Europe, Middle East and North Africa", countries=_REGIONAL,
                      multiplier_bp=13000),
        TerritoryZone(name="worldwide", label="Rest of the world", countries=None, multiplier_bp=16000),
    ],
    duration_bands=[
        DurationBand(max_months=1, multiplier_bp=10000),
        DurationBand(max_months=3, multiplier_bp=12000),
        DurationBand(max_months=12, multiplier_bp=15000),
        DurationBand(max_months=36, multiplier_bp=20000),
    ],
    translation_surcharge_bp=2500,
    max_audience=1_000_000_000,
)


def current_version(session: Session) -> RateCardVersion | None:
    return session.exec(select(RateCardVersion).order_by(col(RateCardVersion.version).desc()).limit(1)).first()


def get_version(session: Session, version: int) -> RateCardVersion:
    row = session.exec(select(RateCardVersion).where(RateCardVersion.version == version)).first()
    if row is None:
        raise RateCardNotFound(f"No rate card version {version}; GET /v1/rate-card shows the current one.")
    return row


def current_row(session: Session) -> RateCardVersion:
    """The current rate card version. Only reads: the default card is published at start-up
    (`seed_default_rate_card`), by the demo loader or by `syndicate licences seed-rate-card`."""
    row = current_version(session)
    if row is None:
        raise RateCardNotPublished(
            "No rate card is published yet, so nothing can be priced. Staff publish one with PUT /v1/staff/rate-card; "
            "the service publishes the default card when it starts.")
    return row


def current_card(session: Session) -> tuple[RateCard, int]:
    row = current_row(session)
    return RateCard.model_validate(row.card), row.version


def ensure_default_rate_card(session: Session) -> RateCardVersion:
    """Publish the built-in rate card as version 1 unless a rate card exists (safe to call again,
    and from several processes at once: the one that loses the race uses the winner's card)."""
    row = current_version(session)
    if row is not None:
        return row
    try:
        return publish(session, DEFAULT_RATE_CARD, actor=audit.Actor.system("seed"), note="Default rate card")
    except RateCardVersionConflict:
        row = current_version(session)
        assert row is not None
        return row


def seed_default_rate_card(engine: Engine) -> RateCardVersion:
    """`ensure_default_rate_card` in its own transaction (what the API does when it starts)."""
    with session_scope(engine) as session:
        return ensure_default_rate_card(session)


def publish(session: Session, card: RateCard, *, actor: audit.Actor, note: str | None = None,
            based_on: int | None = None) -> RateCardVersion:
    """Store `card` as the next version. Of two editors publishing at once, one gets the version
    and the other a RateCardVersionConflict (the unique `version` decides), with nothing written.
    `based_on` is the version the editor read (`If-Match` on the API, a hidden field in the
    console): if a newer one has been published since, the edit is refused naming it."""
    card = validate_card(card)
    previous = current_version(session)
    if based_on is not None and previous is not None and previous.version != based_on:
        raise RateCardVersionConflict(
            f"You edited rate card version {based_on}, but version {previous.version} has been published since"
            f"{' (' + previous.note + ')' if previous.note else ''}; reload it, apply your changes and publish again.",
            version=previous.version, based_on=based_on)
    version = (previous.version + 1) if previous else 1
    row = RateCardVersion(version=version, card=card.model_dump(mode="json"), note=note,
                          created_by=actor.id if actor.type == "staff" else None)
    try:
        # A savepoint, so the loser's transaction stays usable (PostgreSQL) and holds nothing of it.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise RateCardVersionConflict(
            f"Someone published rate card version {version} first; reload the current card (GET /v1/rate-card), "
            "apply your changes to it and publish again.", version=version) from exc
    audit.record(session, actor=actor, action="rate_card.published", object_type="rate_card", object_id=row.id,
                 before={"version": previous.version} if previous else None, after={"version": row.version, "note": note})
    return row
