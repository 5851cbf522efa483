"""The catalogue's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Gone, Invalid, NotFound, SyndicateError


def locate(exc: SyndicateError, where: str) -> SyndicateError:
    """Prefix a problem's detail with where it happened (a file, the Nth article of a batch)."""
    exc.detail = f"{where}: {exc.detail}"
    exc.args = (exc.detail,)
    return exc


class ArticleNotFound(NotFound):
    slug = "article-not-found"
    title = "No such article"


class ArticleWithdrawn(Gone):
    slug = "article-withdrawn"
    title = "The article has been withdrawn"


class EmptyArticleBody(Invalid):
    slug = "empty-article-body"
    title = "The article body has no text"


class CanonicalUrlTaken(Conflict):
    slug = "canonical-url-taken"
    title = "Another article already has that canonical URL"


# --- import problems -------------------------------------------------------------------------


class UnknownImportFormat(Invalid):
    slug = "unknown-import-format"
    title = "The document's format is not one Syndicate imports"


class UnsupportedImportMediaType(SyndicateError):
    slug = "unsupported-import-media-type"
    title = "The Content-Type is not one Syndicate imports"
    status = 415


class UndecodableDocument(Invalid):
    slug = "document-not-utf8"
    title = "The document is not UTF-8 text"


class MalformedJson(Invalid):
    slug = "malformed-json"
    title = "The document is not well-formed JSON"


class EmptyDocument(Invalid):
    slug = "empty-document"
    title = "The document is empty"


class MissingHeadline(Invalid):
    slug = "missing-headline"
    title = "The article has no headline"


class InvalidArticle(Invalid):
    slug = "invalid-article"
    title = "The article does not match the import shape"


class CanonicalUrlRequired(Invalid):
    slug = "canonical-url-required"
    title = "The article needs a canonical URL"
