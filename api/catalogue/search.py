"""Full-text search of the catalogue's headlines and standfirsts, on PostgreSQL and SQLite.

Every word of the query must appear, in any order and either field (`drought talks` finds "Talks
stall as drought deepens"); words match whole and case-insensitively, with no stemming (see
SEARCH_CONFIG in models.py for why). Operators and wildcards mean nothing: `NOT`, `*`, `%` or `"`
are searched as text. Matches rank by one rule that gives each article the same rank whatever the
rest of the catalogue holds, so a cursor stays valid between pages: articles with every word in
the headline first, then the rest.
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import case, column, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import plainto_tsquery, to_tsvector
from sqlalchemy.sql import ColumnElement, operators
from sqlalchemy.sql.elements import SQLColumnExpression, UnaryExpression
from sqlmodel import col

from api.catalogue.models import SEARCH_CONFIG, SQLITE_SEARCH_TABLE, Article, search_document

_WORD = re.compile(r"[^\W_]")
_fts = table(SQLITE_SEARCH_TABLE, column("rowid"), column(SQLITE_SEARCH_TABLE))


def has_words(q: str) -> bool:
    """Whether the query holds anything to search for (`%%` or `--` does not)."""
    return bool(_WORD.search(q))


def _fts5_query(q: str, *, column_name: str | None = None) -> str:
    """An FTS5 query requiring every whitespace-separated term. Each term is one quoted string,
    which FTS5 reads as text (never as an operator) and tokenises like the documents; a term of
    punctuation alone is left out, as PostgreSQL's parser leaves it out (FTS5 would match nothing)."""
    terms = " AND ".join('"' + term.replace('"', '""') + '"' for term in q.split() if has_words(term))
    return f"{column_name} : ({terms})" if column_name else terms


def _fts5_rowids(expression: str):
    return select(_fts.c.rowid).where(_fts.c[SQLITE_SEARCH_TABLE].match(expression))


def matches(dialect: str, q: str) -> ColumnElement[bool]:
    """The articles whose headline and standfirst hold every word of `q`, by the search index."""
    if dialect == "postgresql":
        return search_document(col(Article.headline), col(Article.standfirst)).op("@@")(_tsquery(q))
    return literal_column("article.rowid").in_(_fts5_rowids(_fts5_query(q)))


def headline_rank(dialect: str, q: str) -> ColumnElement[int]:
    """1 when every word is in the headline, else 0: computed for matching rows only."""
    if dialect == "postgresql":
        in_headline = to_tsvector(text(f"'{SEARCH_CONFIG}'"), Article.headline).op("@@")(_tsquery(q))
    else:
        in_headline = literal_column("article.rowid").in_(_fts5_rowids(_fts5_query(q, column_name="headline")))
    return case((in_headline, 1), else_=0)


def _tsquery(q: str):
    return plainto_tsquery(text(f"'{SEARCH_CONFIG}'"), q)


def not_from_index(dialect: str, column: SQLColumnExpression[Any]) -> SQLColumnExpression[Any]:
    """On SQLite, `+column`: its planner then cannot walk that column's index (for a big section it
    would, probing the matches per row) and starts from the search's matches. PostgreSQL's planner
    weighs both by its statistics, so the column is left as it is there."""
    if dialect != "sqlite":
        return column
    # A mapped attribute or a column: both carry the column's type and compile as the column.
    element = cast(ColumnElement[Any], column)
    return UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)
