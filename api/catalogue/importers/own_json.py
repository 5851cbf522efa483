"""Our own JSON shape: an ArticleCreate object, or a list of them."""

from __future__ import annotations

from typing import Any

from api.catalogue.errors import EmptyDocument, InvalidArticle
from api.catalogue.importers.common import build_article
from api.catalogue.schemas import ArticleCreate


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
            item = {**item, "canonical_url": canonical_url}
        articles.append(build_article(item, where=where))
    return articles
