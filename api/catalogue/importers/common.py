"""Helpers every importer shares: building a validated ArticleCreate, canonical URLs, dates, paragraphs."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from api.catalogue.errors import CanonicalUrlRequired, InvalidArticle, MissingHeadline
from api.catalogue.schemas import ArticleCreate
from api.catalogue.text import slugify

_HTTP_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)


def is_http_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_HTTP_URL.match(value.strip()))


def squash(text: str | None) -> str:
    """Collapse runs of whitespace (including non-breaking spaces) to single spaces."""
    return re.sub(r"\s+", " ", (text or "").replace("\u00a0", " ")).strip()


def parse_datetime(value: Any, *, field: str) -> datetime | None:
    """ISO 8601 (`Z` allowed); a time without an offset is taken as UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidArticle(f"{field} must be an ISO 8601 date-time string, got {value!r}.")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidArticle(f"{field} {value!r} is not an ISO 8601 date-time (e.g. 2020-01-07T12:00:00Z).") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def text_to_paragraphs(text: str) -> str:
    """Plain text to `<p>` paragraphs: blank lines separate paragraphs."""
    chunks = [squash(c) for c in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    return "".join(f"<p>{html.escape(c, quote=False)}</p>" for c in chunks if c)


def resolve_canonical_url(found: str | None, *, override: str | None, template: str | None, headline: str) -> str:
    """The canonical URL rule, shared by every importer.

    1. An explicit URL (API `canonical_url`, CLI `--canonical-url`) wins.
    2. Otherwise the one the document states (`<link rel=canonical>`, og:url, JSON-LD url, ninjs uri).
    3. Otherwise, when the publisher has configured how its article URLs look
       (`SYNDICATE_CANONICAL_URL_TEMPLATE`, e.g. `https://www.example.com/news/{slug}`), one is derived
       from the headline. Re-importing the same page finds the same article; a page whose headline
       changed would become a new article, so pin it with a URL.
    4. Otherwise the import is refused: a canonical URL on Syndicate's own host would serve nothing,
       and licensed copies carry it as rel=canonical.
    """
    if override:
        return override
    if found and is_http_url(found):
        return found.strip()
    if template:
        return template.replace("{slug}", slugify(headline))
    raise CanonicalUrlRequired(
        "The document states no canonical URL (no <link rel=canonical>, og:url, JSON-LD url or http(s) ninjs uri); "
        "pass the article's public address on the publisher's site as canonical_url (CLI: --canonical-url), or "
        "set SYNDICATE_CANONICAL_URL_TEMPLATE so one can be derived from the headline."
    )


def build_article(fields: dict[str, Any], *, where: str = "") -> ArticleCreate:
    """Validate importer output with the API's own schema, turning errors into problems."""
    try:
        return ArticleCreate.model_validate(fields)
    except ValidationError as exc:
        raise validation_problem(exc, where=where) from exc


def validation_problem(exc: ValidationError, *, where: str = "") -> InvalidArticle | MissingHeadline:
    prefix = f"{where}: " if where else ""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]
    if any(e["loc"] == ("headline",) and (e["type"] in ("missing", "value_error") or e.get("input") in (None, ""))
           for e in exc.errors()):
        return MissingHeadline(f"{prefix}the article has no headline; send a non-blank `headline`.", errors=errors)
    listed = "; ".join(f"{e['field'] or '(document)'}: {e['message']}" for e in errors)
    return InvalidArticle(f"{prefix}{listed}.", errors=errors)
