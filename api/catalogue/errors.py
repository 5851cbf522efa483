"""The catalogue's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Gone, Invalid, NotFound, SyndicateError


def locate(exc: SyndicateError, where: str) -> SyndicateError:
    """Prefix a problem's detail with where it happened (a file, the Nth article of a batch)."""
    exc.detail = f"{where}: {exc.detail}"
    exc.args = (exc.detail,)
    return exc


class ArticleNotFound(NotFound):
    """No article with that id (or slug) is in the catalogue; check it against `GET /v1/articles`."""

    slug = "article-not-found"
    title = "No such article"


class ArticleWithdrawn(Gone):
    """The article was withdrawn by the publisher; it can no longer be changed or re-imported."""

    slug = "article-withdrawn"
    title = "The article has been withdrawn"


class EmptyArticleBody(Invalid):
    """The document has a headline but no body text once sanitised; send the article's paragraphs."""

    slug = "empty-article-body"
    title = "The article body has no text"


class CanonicalUrlTaken(Conflict):
    """That canonical URL already belongs to another article; import under that article's external id, or fix the URL.
    """

    slug = "canonical-url-taken"
    title = "Another article already has that canonical URL"


# --- import problems -------------------------------------------------------------------------


class UnknownImportFormat(Invalid):
    """The `format` parameter names no import format we read; `detail` lists the ones that exist."""

    slug = "unknown-import-format"
    title = "The document's format is not one Syndicate imports"


class UnsupportedImportMediaType(SyndicateError):
    """The import body's Content-Type cannot be imported; send application/json (our shape or ninjs), text/html or
    text/plain.
    """

    slug = "unsupported-import-media-type"
    title = "The Content-Type is not one Syndicate imports"
    status = 415


class UndecodableDocument(Invalid):
    """The import body is not valid UTF-8; save the document as UTF-8 and import it again."""

    slug = "document-not-utf8"
    title = "The document is not UTF-8 text"


class MalformedJson(Invalid):
    """The import body is not valid JSON; `detail` gives the line and column of the first error."""

    slug = "malformed-json"
    title = "The document is not well-formed JSON"


class EmptyDocument(Invalid):
    """The imported page is empty or holds only page furniture (navigation, teasers, footer); send the full article
    page.
    """

    slug = "empty-document"
    title = "The document is empty"


class MissingHeadline(Invalid):
    """The imported document has no headline; add one (for ninjs, a `headlines` entry with role `main`)."""

    slug = "missing-headline"
    title = "The article has no headline"


class InvalidArticle(Invalid):
    """The imported document is not a usable article (a field of the wrong type, a date that is not ISO 8601); `detail`
    names the field to fix.
    """

    slug = "invalid-article"
    title = "The article does not match the import shape"


class CanonicalUrlRequired(Invalid):
    """The imported document states no canonical URL; pass the article's public address as `canonical_url`, or set
    `SYNDICATE_CANONICAL_URL_TEMPLATE` so one can be derived.
    """

    slug = "canonical-url-required"
    title = "The article needs a canonical URL"
