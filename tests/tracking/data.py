"""Sightings and a still-live case built through the tracking services (no HTTP), for page tests."""

from __future__ import annotations

from datetime import timedelta

from api.catalogue import service as catalogue
from api.core.db import utcnow
from api.tracking import service as tracking, still_live
from api.tracking.models import StillLiveCase
from tests.builders import TEST_ACTOR, make_article, make_licence, make_partner


def copies_with_a_case(session, *, partner=None) -> StillLiveCase:
    """A partner's licence to two articles shown on three pages over two days; the first article is
    then withdrawn and seen again on a long page URL, which opens a still-live case."""
    partner = partner or make_partner(session, name="Outlet Gazette")
    articles = [make_article(session, headline="Budget passes after all-night sitting"), make_article(session)]
    licence = make_licence(session, partner=partner, articles=articles, scope="bundle")
    now = utcnow()
    long_page = "https://outlet.example/news/2026/12/02/" + "budget-passes-after-all-night-sitting-" * 4 + "story"
    for n, (article, page) in enumerate([(articles[0], long_page), (articles[0], "https://outlet.example/"),
                                         (articles[1], "https://outlet.example/b")]):
        for day in (2, 1):
            tracking.record_sighting(session, licence_id=licence.id, article_id=article.id, page_url=page,
                                     viewer=f"viewer-{n}-{day}", now=now - timedelta(days=day))
    catalogue.withdraw_article(session, articles[0].id, reason="Legal complaint", actor=TEST_ACTOR)
    counted = tracking.record_sighting(session, licence_id=licence.id, article_id=articles[0].id, page_url=long_page,
                                       viewer="viewer-after", now=now)
    case = still_live.note_sighting(session, licence_id=licence.id, article_id=articles[0].id, page_url=long_page,
                                    kill=still_live.Kill("article_withdrawn"), view=counted.view, now=now)
    assert case is not None
    session.commit()
    return case
