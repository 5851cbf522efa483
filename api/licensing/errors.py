"""Licensing problem types: each bad input or refused action has its own stable `type`."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound, ServiceUnavailable


class LicenceRequestNotFound(NotFound):
    slug = "licence-request-not-found"
    title = "No such licence request"


class LicenceNotFound(NotFound):
    slug = "licence-not-found"
    title = "No such licence"


class RateCardNotFound(NotFound):
    slug = "rate-card-not-found"
    title = "No such rate card version"


class RateCardNotPublished(ServiceUnavailable):
    """Reads never publish one: the default card is seeded at start-up, by the demo loader or by
    `syndicate licences seed-rate-card`."""

    slug = "rate-card-not-published"
    title = "No rate card has been published yet"


class RateCardVersionConflict(Conflict):
    slug = "rate-card-version-conflict"
    title = "Another rate card version was published first"


class AutoApprovalRuleNotFound(NotFound):
    slug = "auto-approval-rule-not-found"
    title = "No such auto-approval rule"


class EmptyScope(Invalid):
    slug = "empty-scope"
    title = "The scope names nothing to licence"


class ScopeMismatch(Invalid):
    slug = "scope-mismatch"
    title = "The scope and the articles or section sent do not fit together"


class UnknownArticle(Invalid):
    slug = "unknown-article"
    title = "An article in the scope is not in the catalogue"


class WithdrawnArticle(Invalid):
    slug = "withdrawn-article"
    title = "An article in the scope has been withdrawn"


class ArticleNotLicensable(Invalid):
    slug = "article-not-licensable"
    title = "An article in the scope is not offered for licensing"


class ArticleNotYetPublished(Invalid):
    slug = "article-embargoed"
    title = "An article in the scope is not published yet"


class UnknownSection(Invalid):
    slug = "unknown-section"
    title = "No such section in the catalogue"


class UnknownTerritory(Invalid):
    slug = "unknown-territory"
    title = "A territory is not an ISO 3166-1 alpha-2 country code"


class UnknownLanguage(Invalid):
    slug = "unknown-language"
    title = "The language is not a valid BCP 47 tag"


class PeriodInPast(Invalid):
    slug = "period-in-past"
    title = "The licence period starts or ends in the past"


class InvalidPeriod(Invalid):
    slug = "invalid-period"
    title = "The licence period is not valid"


class AudienceOutOfRange(Invalid):
    slug = "audience-out-of-range"
    title = "The audience size is outside the range the rate card prices"


class CurrencyNotPriced(Invalid):
    slug = "currency-not-priced"
    title = "The rate card has no prices in this currency"


class BillingModeNotOffered(Invalid):
    slug = "billing-mode-not-offered"
    title = "That billing mode is not offered for this scope"


class InvalidRateCard(Invalid):
    slug = "invalid-rate-card"
    title = "The rate card is not consistent"


class InvalidDecision(Invalid):
    slug = "invalid-decision"
    title = "The decision is missing something it needs"


class RequestAlreadyDecided(Conflict):
    slug = "request-already-decided"
    title = "The licence request has already been decided"


class NoCounterOffer(Conflict):
    slug = "no-counter-offer"
    title = "There is no counter-offer to answer"


class AmendmentRefused(Invalid):
    slug = "amendment-refused"
    title = "This change cannot be made to the licence"


class LicenceNotAmendable(Conflict):
    slug = "licence-not-amendable"
    title = "Only an active licence can be amended"
