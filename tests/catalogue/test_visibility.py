"""The embargo and withdrawal rule has a Python form and an SQL form (catalogue.visibility): they
agree on every kind of article, and every caller (the public catalogue, delivery's feeds and its
content snapshots) answers by it."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from api.catalogue import service as catalogue
from api.catalogue import visibility
from api.catalogue.errors import ArticleNotFound
from api.catalogue.models import Article, ArticleStatus
from api.core.db import utcnow
from tests.builders import make_article


def _every_kind(session: Session) -> dict[str, Article]:
    """One article per (status, embargo) combination the catalogue can hold."""
    now = utcnow()
    kinds = {
        "published": (ArticleStatus.published, None),
        "embargo lifted": (ArticleStatus.embargoed, now - timedelta(hours=1)),
        "embargo ahead": (ArticleStatus.embargoed, now + timedelta(days=1)),
        "embargoed undated": (ArticleStatus.embargoed, None),
        "withdrawn": (ArticleStatus.withdrawn, None),
        "withdrawn under embargo": (ArticleStatus.withdrawn, now + timedelta(days=1)),
    }
    articles = {}
    for name, (status, until) in kinds.items():
        article = make_article(session, headline=f"Visibility: {name}")
        article.status, article.embargo_until = status, until
        articles[name] = article
    session.flush()
    return articles


def test_the_sql_and_python_forms_agree(session: Session) -> None:
    articles = _every_kind(session)
    now = utcnow()
    ids = [a.id for a in articles.values()]
    in_sql = set(session.exec(select(Article.id).where(Article.id.in_(ids), visibility.available_clause(now))).all())
    out_of_embargo = set(session.exec(
        select(Article.id).where(Article.id.in_(ids), visibility.out_of_embargo_clause(now))).all())
    assert in_sql == {a.id for a in articles.values() if visibility.is_available(a, now)}
    assert out_of_embargo == {a.id for a in articles.values() if not visibility.under_embargo(a, now)}
    assert {name for name, a in articles.items() if a.id in in_sql} == {"published", "embargo lifted"}
    assert {name for name, a in articles.items() if a.id in out_of_embargo} == {"published", "embargo lifted", "withdrawn"}


def test_available_from_is_the_instant_the_embargo_lifts(session: Session) -> None:
    articles = _every_kind(session)
    assert visibility.available_from(articles["published"]) == 0.0
    assert visibility.available_from(articles["embargoed undated"]) == math.inf
    assert visibility.available_from(articles["embargo ahead"]) == articles["embargo ahead"].embargo_until.timestamp()


def test_the_public_catalogue_hides_an_undated_embargo_as_its_article_page_does(session: Session) -> None:
    """The listing used to test the date only, and listed an article its own page refused."""
    articles = _every_kind(session)
    listed, _cursor = catalogue.list_articles(session, q=None, limit=100)
    listed_names = {name for name, a in articles.items() if a in listed}
    assert listed_names == {"published", "embargo lifted"}
    with pytest.raises(ArticleNotFound):
        catalogue.get_public_article(session, articles["embargoed undated"].id)
