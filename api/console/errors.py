"""The console domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Invalid


class BadDate(Invalid):
    """A date typed into a console form cannot be read, or is missing; type it like 2027-03-31."""

    slug = "bad-date"
    title = "The date is not a date"


class NotAWholeNumber(Invalid):
    """A number typed into a console form is not a whole number; type digits only."""

    slug = "not-a-whole-number"
    title = "A count is not a whole number"


class BadRateCardForm(Invalid):
    """A value on the rate card form cannot be read (a factor, a price or a percentage); `detail` names the field and
    the form it takes.
    """

    slug = "bad-rate-card-form"
    title = "A rate card field is not filled in right"


class BadAmount(Invalid):
    """An amount typed into a console form cannot be read, is negative or has too many decimal places for its currency;
    type it like 1234.56.
    """

    slug = "bad-amount"
    title = "The amount is not a number"


class BadStaffForm(Invalid):
    """A field of the new staff account form is not valid (the message names it: the e-mail, the
    name, a role, or a password shorter than the minimum); correct it and submit again."""

    slug = "bad-staff-form"
    title = "The staff account form is not valid"
