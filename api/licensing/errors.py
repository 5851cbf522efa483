"""Licensing problem types: each bad input or refused action has its own stable `type`."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound, ServiceUnavailable


class LicenceRequestNotFound(NotFound):
    """No licence request with that id (or not on your account); list the requests to find it."""

    slug = "licence-request-not-found"
    title = "No such licence request"


class LicenceNotFound(NotFound):
    """No licence with that id (or not on your account); list the licences to find it."""

    slug = "licence-not-found"
    title = "No such licence"


class RateCardNotFound(NotFound):
    """No rate card version with that number; `GET /v1/rate-card` shows the current one."""

    slug = "rate-card-not-found"
    title = "No such rate card version"


class RateCardNotPublished(ServiceUnavailable):
    """No rate card is published yet, so nothing can be priced; retry later. Reads never publish one: the default
    card is seeded at start-up, by the demo loader or by `syndicate licences seed-rate-card`, and staff publish
    theirs with PUT /v1/staff/rate-card."""

    slug = "rate-card-not-published"
    title = "No rate card has been published yet"


class RateCardVersionConflict(Conflict):
    """Another rate card version was published since the one you edited; reload the current card, apply your changes to
    it and publish again.
    """

    slug = "rate-card-version-conflict"
    title = "Another rate card version was published first"


class AutoApprovalRuleNotFound(NotFound):
    """No auto-approval rule with that id; list the rules to find it."""

    slug = "auto-approval-rule-not-found"
    title = "No such auto-approval rule"


class EmptyScope(Invalid):
    """The scope names nothing to license: give `article_ids` for an article or bundle, or a `section` for a section
    feed.
    """

    slug = "empty-scope"
    title = "The scope names nothing to licence"


class ScopeMismatch(Invalid):
    """The scope and what it lists do not fit (one article for `article`, 2 or more for `bundle`, a section only for
    `section_feed`); `detail` says how to fix it.
    """

    slug = "scope-mismatch"
    title = "The scope and the articles or section sent do not fit together"


class UnknownArticle(Invalid):
    """An article id in the request is not in the catalogue; check it against `GET /v1/articles`."""

    slug = "unknown-article"
    title = "An article in the scope is not in the catalogue"


class WithdrawnArticle(Invalid):
    """The publisher withdrew this article, so it can no longer be licensed; remove it from the request."""

    slug = "withdrawn-article"
    title = "An article in the scope has been withdrawn"


class ArticleNotLicensable(Invalid):
    """The publisher does not offer this article for republication; remove it from `article_ids`."""

    slug = "article-not-licensable"
    title = "An article in the scope is not offered for licensing"


class ArticleNotYetPublished(Invalid):
    """The article is still under embargo; ask again after it is published."""

    slug = "article-embargoed"
    title = "An article in the scope is not published yet"


class UnknownSection(Invalid):
    """No such section in the catalogue; `GET /v1/licence-requests/form` lists the sections."""

    slug = "unknown-section"
    title = "No such section in the catalogue"


class UnknownTerritory(Invalid):
    """A territory is not an ISO 3166-1 alpha-2 country code, or none was given; list codes such as GB, FR or US.
    """

    slug = "unknown-territory"
    title = "A territory is not an ISO 3166-1 alpha-2 country code"


class UnknownLanguage(Invalid):
    """The language is not a valid BCP 47 tag; use one such as en, ar or fr-CA."""

    slug = "unknown-language"
    title = "The language is not a valid BCP 47 tag"


class PeriodInPast(Invalid):
    """The licence would start or end in the past; start today or later, and end after that."""

    slug = "period-in-past"
    title = "The licence period starts or ends in the past"


class InvalidPeriod(Invalid):
    """The licence period cannot be used: give either `period_months` or `ends_at` (not both), end after the start, and
    stay within the longest period offered.
    """

    slug = "invalid-period"
    title = "The licence period is not valid"


class AudienceOutOfRange(Invalid):
    """The `audience_size` is outside what the rate card prices; give one in range, or write to the licensing desk for
    larger audiences.
    """

    slug = "audience-out-of-range"
    title = "The audience size is outside the range the rate card prices"


class CurrencyNotPriced(Invalid):
    """Your account's currency is not priced on the rate card, so no quote can be made; contact the licensing desk.
    """

    slug = "currency-not-priced"
    title = "The rate card has no prices in this currency"


class BillingModeNotOffered(Invalid):
    """This scope is not billed the way you asked; `offered` lists the billing modes it takes."""

    slug = "billing-mode-not-offered"
    title = "That billing mode is not offered for this scope"


class InvalidRateCard(Invalid):
    """The rate card breaks its own rules; `problems` lists each one to fix before publishing."""

    slug = "invalid-rate-card"
    title = "The rate card is not consistent"


class InvalidDecision(Invalid):
    """The decision is missing something it needs, most often the reason the partner is told; add it and send again.
    """

    slug = "invalid-decision"
    title = "The decision is missing something it needs"


class RequestAlreadyDecided(Conflict):
    """Someone already decided this licence request; reload it before acting."""

    slug = "request-already-decided"
    title = "The licence request has already been decided"


class NoCounterOffer(Conflict):
    """The request holds no counter-offer to accept or decline; reload it to see its state."""

    slug = "no-counter-offer"
    title = "There is no counter-offer to answer"


class AmendmentRefused(Invalid):
    """The amendment cannot be made as sent (no reason given, a term that cannot be amended, a quota below 1); `detail`
    says which.
    """

    slug = "amendment-refused"
    title = "This change cannot be made to the licence"


class LicenceNotAmendable(Conflict):
    """Only an active licence can be amended; this one is not active."""

    slug = "licence-not-amendable"
    title = "Only an active licence can be amended"
