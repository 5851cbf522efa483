"""Names for the codes people read on the portal and the console alike: countries and languages
(uses are licensing's words: `licensing.use_name`). One place, so a partner and the desk see a
licence in the same words."""

from __future__ import annotations

from collections.abc import Iterable

import pycountry


def country(code: str) -> str:
    """"GB" -> "United Kingdom" (the common name where pycountry has one); an unknown code as it is."""
    found = pycountry.countries.get(alpha_2=code) if code else None
    return (getattr(found, "common_name", None) or found.name) if found else code


def countries(codes: Iterable[str]) -> str:
    return ", ".join(country(c) for c in codes)


def language(tag: str) -> str:
    """A BCP 47 tag by its language's name ("en-GB" -> "English (en-GB)"), the tag itself if unknown."""
    found = pycountry.languages.get(alpha_2=tag.split("-")[0].lower()) if tag else None
    if found is None:
        return tag
    return found.name if "-" not in tag else f"{found.name} ({tag})"

