"""Pricing: line by line, integer arithmetic, deterministic, per currency and rate card version."""

from __future__ import annotations

from datetime import timedelta


from api.core.db import utcnow
from api.core.months import add_months
from api.licensing import quotes, ratecard
from api.licensing.models import BillingMode, ScopeKind, Use
from api.licensing.quotes import Terms, TermsInput
from api.licensing.ratecard import DEFAULT_RATE_CARD as CARD
from tests.builders import make_article


def _terms(**changes) -> Terms:
    now = utcnow()
    values = dict(scope=ScopeKind.article, use=Use.web, territories=["GB"], audience_size=5000, article_ids=["art_x"],
                  section=None, language="en", translation=False, starts_at=now, ends_at=add_months(now, 1), months=1,
                  billing_mode=BillingMode.one_off)
    values.update(changes)
    return Terms(**values)


def test_lines_explain_the_price() -> None:
    quote = quotes.price(CARD, _terms(scope=ScopeKind.bundle, article_ids=["a", "b", "c"], use=Use.print,
                                      territories=["GB", "FR"], audience_size=50_000, months=3, translation=True,
                                      language="fr"), currency="GBP", version=1)
    # 3 x 100.00; print x1.25; 10k-100k x1.5; FR is regional x1.3; 3 months x1.2; translation +25%.
    assert [(line.code, line.factor_bp, line.subtotal) for line in quote.lines] == [
        ("base", None, 30000), ("use", 12500, 37500), ("audience", 15000, 56250), ("territory", 13000, 73125),
        ("duration", 12000, 87750), ("translation", 12500, 109688)]
    assert sum(line.amount for line in quote.lines) == quote.amount == quote.estimated_total == 109688
    assert quote.interval == "once"


def test_rounding_is_half_up_at_each_step() -> None:
    assert quotes._apply(1, 15000) == 2   # 1.5 -> 2
    assert quotes._apply(3, 12500) == 4   # 3.75 -> 4
    assert quotes._apply(5, 11000) == 6   # 5.5 -> 6
    assert quotes._apply(7, 10714) == 7   # 7.4998 -> 7


def test_same_inputs_same_price() -> None:
    terms = _terms(territories=["US", "GB"], audience_size=999_999, use=Use.broadcast)
    prices = {quotes.price(CARD, terms, currency=c, version=1).amount for c in ["EUR"] * 20}
    assert len(prices) == 1


def test_the_widest_zone_prices_the_request() -> None:
    assert quotes.price(CARD, _terms(territories=["GB"]), currency="GBP", version=1).amount == 15000
    assert quotes.price(CARD, _terms(territories=["GB", "DE"]), currency="GBP", version=1).amount == 19500
    assert quotes.price(CARD, _terms(territories=["DE", "JP", "GB"]), currency="GBP", version=1).amount == 24000


def test_feeds_are_monthly_and_usage_is_per_article() -> None:
    feed = quotes.price(CARD, _terms(scope=ScopeKind.section_feed, article_ids=[], section="news", months=6,
                                     billing_mode=BillingMode.subscription), currency="USD", version=1)
    assert feed.amount == 75000 and feed.interval == "month" and feed.estimated_total == 75000 * 6
    assert "duration" not in [line.code for line in feed.lines]
    usage = quotes.price(CARD, _terms(scope=ScopeKind.catalogue, article_ids=[], months=12, audience_size=200_000,
                                      billing_mode=BillingMode.usage), currency="GBP", version=1)
    assert usage.amount == 4000 * 25000 // 10000 and usage.interval == "article" and usage.estimated_total is None


def test_quote_service_records_the_rate_card_version(session) -> None:
    ratecard.ensure_default_rate_card(session)
    article = make_article(session)
    data = TermsInput(scope=ScopeKind.article, use=Use.print, territories=["gb"], audience_size=10, article_ids=[article.id],
                      language="EN-gb", ends_at=utcnow() + timedelta(days=45))
    first = quotes.quote(session, data, currency="GBP")
    assert first.rate_card_version == 1 and first.amount == 15000 * 12500 // 10000 * 12000 // 10000
    assert first.terms.territories == ["GB"] and first.terms.language == "en-GB" and first.terms.months == 2
    card = CARD.model_copy(update={"use_multipliers_bp": {**CARD.use_multipliers_bp, Use.print: 20000}})
    ratecard.publish(session, card, actor=ratecard.audit.Actor("staff", "stf_x"), note="print up")
    second = quotes.quote(session, data, currency="GBP")
    assert second.rate_card_version == 2 and second.amount == 15000 * 2 * 12000 // 10000
    assert ratecard.get_version(session, 1).card["use_multipliers_bp"]["print"] == 12500
