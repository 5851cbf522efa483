"""At start the delivery runtime reads the active licences and the most recent articles in bulk,
so a restart does not pay a cache miss per licence and per article."""

from __future__ import annotations

from api.delivery.runtime import DeliveryRuntime
from api.delivery.snapshots import load_article, load_licence
from tests.builders import make_article, make_licence, make_partner


def test_preload_reads_active_licences_and_the_newest_articles(settings, session, engine):
    partner = make_partner(session)
    older, newer = make_article(session), make_article(session)
    active = make_licence(session, partner=partner, scope="catalogue", monthly_quota=100)
    ended = make_licence(session, partner=partner, scope="catalogue", days=-1)
    session.commit()
    runtime = DeliveryRuntime(settings.model_copy(update={"delivery_preload_articles": 1}), engine)
    runtime.preload()
    assert active.id in runtime.licences and ended.id not in runtime.licences
    assert runtime.licences[active.id] == load_licence(session, active.id)
    assert newer.id in runtime.articles and older.id not in runtime.articles
    assert runtime.articles[newer.id] == load_article(session, newer.id)
    version = runtime.articles[newer.id].version
    assert {key for key in runtime.templates if key[0] == newer.id} == {
        (newer.id, version, fmt) for fmt in ("json", "ninjs", "html")}  # built ahead too


def test_preload_never_goes_past_the_cache_sizes_nor_keeps_what_an_invalidation_raced(settings, session, engine,
                                                                                      monkeypatch):
    partner = make_partner(session)
    for _ in range(3):
        make_article(session)
        make_licence(session, partner=partner, scope="catalogue")
    session.commit()
    sized = settings.model_copy(update={"delivery_licence_cache_size": 2, "delivery_article_cache_size": 2,
                                        "delivery_preload_articles": 10})
    runtime = DeliveryRuntime(sized, engine)
    runtime.preload()
    assert len(runtime.licences) == 2 and len(runtime.articles) == 2
    raced = DeliveryRuntime(sized, engine)
    from api.delivery import runtime as module

    real = module.load_articles

    def load_during_a_change(session, ids):
        raced.articles.invalidate()  # an article changed while the batch was read
        return real(session, ids)

    monkeypatch.setattr(module, "load_articles", load_during_a_change)
    raced.preload()
    assert len(raced.articles) == 0


async def test_requests_that_miss_the_same_article_at_once_share_one_read(app, licensed, monkeypatch):
    import asyncio
    import threading

    import httpx

    from tests.delivery.conftest import bearer

    runtime = app.state.delivery
    runtime.start()
    reads, release = [], threading.Event()
    real = runtime._load_article

    def slow_load(article_id):
        reads.append(article_id)
        release.wait(10)
        return real(article_id)

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://syndicate.test") as c:
            token = (await c.post(f"/v1/licences/{licensed.licence.id}/tokens", headers=licensed.key_headers)).json()["token"]
            await c.get(f"/v1/content/articles/{licensed.articles[1].id}", headers=bearer(token))  # licence now cached
            monkeypatch.setattr(runtime, "_load_article", slow_load)
            article_id = licensed.articles[0].id
            url = f"/v1/content/articles/{article_id}"
            requests = [asyncio.create_task(c.get(url, headers=bearer(token))) for _ in range(5)]
            for _ in range(1000):  # until all five wait on the one read, begun in its thread (10 s at most)
                if runtime.article_loads.waiters(article_id) == 5 and reads:
                    break
                await asyncio.sleep(0.01)
            assert runtime.article_loads.waiters(article_id) == 5 and reads == [article_id]
            release.set()
            statuses = [(await request).status_code for request in requests]
    finally:
        release.set()
        await runtime.stop()
    assert statuses == [200] * 5 and reads == [licensed.articles[0].id]
