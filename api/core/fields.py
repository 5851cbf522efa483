"""Field types with the documented maximum lengths every domain's schemas share.

SQLite does not enforce VARCHAR lengths, so the schema is the guard on both databases; the
column lengths match these (PostgreSQL enforces them too, as a second line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional, TypeAlias, TypeVar

from pydantic import AfterValidator, AnyHttpUrl, EmailStr, Field, UrlConstraints

URL_MAX_LENGTH = 1000
WEBSITE_MAX_LENGTH = 500
EMAIL_MAX_LENGTH = 254  # RFC 5321's path limit, less the angle brackets
ID_MAX_LENGTH = 40
# An article body is HTML; the longest features run to a few hundred kB.
BODY_HTML_MAX_LENGTH = 1_000_000


def _normalised_within(limit: int):
    """pydantic checks the length as sent; normalising (percent-encoding, punycode) can lengthen it."""

    def check(url: AnyHttpUrl) -> AnyHttpUrl:
        if len(str(url)) > limit:
            raise ValueError(f"URL should have at most {limit} characters once normalised")
        return url

    return AfterValidator(check)


# Spelled out rather than built by a function, so the type checker can read them as types.
HttpUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=URL_MAX_LENGTH), _normalised_within(URL_MAX_LENGTH)]
Website = Annotated[AnyHttpUrl, UrlConstraints(max_length=WEBSITE_MAX_LENGTH), _normalised_within(WEBSITE_MAX_LENGTH)]
Email = Annotated[EmailStr, Field(max_length=EMAIL_MAX_LENGTH)]
Id = Annotated[str, Field(max_length=ID_MAX_LENGTH)]
# ISO codes are checked against pycountry by the services (their own problem types); this only bounds them.
Code = Annotated[str, Field(max_length=8)]


T = TypeVar("T")
# An update's field that may be left out (the value is kept) but not sent as null:
# `name: Omittable[str] = Field(default=None)`. The type checker sees `str | None`, which is what the
# attribute holds (None when left out); pydantic sees `str`, so null fails validation naming the
# field, and the JSON schema says "string", not "string or null".
if TYPE_CHECKING:
    Omittable: TypeAlias = Optional[T]  # noqa: UP045 (mypy rejected `T | None` as an alias target here)
else:
    Omittable = Annotated[T, "omittable: left out is None, null is refused"]
