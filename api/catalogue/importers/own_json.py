"""Our own JSON shape: an ArticleCreate object, or a list of them."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.catalogue.errors import EmptyDocument, InvalidArticle
from api.catalogue.importers.common import build_article
from api.catalogue.schemas import ArticleCreate
from api.core.fields import HttpUrl

_URL: TypeAdapter[Any] = TypeAdapter(HttpUrl)


def parse_own_json(document: Any, *, canonical_url: str | None = None) -> list[ArticleCreate]:
    items = document if isinstance(document, list) else [document]
    if not items:
        raise EmptyDocument("The JSON list holds no articles; send at least one article object.")
    articles = []
    for index, item in enumerate(items):
        where = f"article {index + 1}" if isinstance(document, list) else ""
        if not isinstance(item, dict):
            raise InvalidArticle(f"{where or 'the document'}: expected a JSON object (an article), got {type(item).__name__}.")
        if canonical_url:
            if "canonical_url" in item:
                _check_stated_url(item["canonical_url"], where=where)
            item = {**item, "canonical_url": canonical_url}
        articles.append(build_article(item, where=where))
    return articles


def _check_stated_url(value: Any, *, where: str) -> None:
    """The `canonical_url` parameter replaces the URL a document states, but a stated URL that is not
    one is still a malformed document: refused, as it would be without the parameter."""
    try:
        _URL.validate_python(value)
    except ValidationError as exc:
        errors = [{"field": "canonical_url", "message": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]
        prefix = f"{where}: " if where else ""
        raise InvalidArticle(f"{prefix}canonical_url: {errors[0]['message']} (the document's own URL must be valid "
                             "even when the canonical_url parameter replaces it).", errors=errors) from exc
