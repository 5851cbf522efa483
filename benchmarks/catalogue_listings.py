"""Benchmark: what a public catalogue listing costs at 1,000 and at 100,000 articles.

    python benchmarks/catalogue_listings.py --db sqlite            # or: --db postgres [--database-url URL]
    python benchmarks/catalogue_listings.py --sizes 1000,100000 --repeat 30

For each size, builds a fresh database with the migrations (SQLite: a temporary file; PostgreSQL: the
database `syndicate_bench_listings` on 127.0.0.1, recreated), inserts that many articles with their
tag rows in batches (executemany; the SQLite search triggers and the PostgreSQL index keep up as they
would for the service's own inserts), ANALYZEs, then times `catalogue.list_articles` (the query the
`/v1/articles` endpoint runs) for each filter: page 1 and page 5 (keyset; "-" for a listing of
fewer pages), median and 90th
percentile of `--repeat` calls. The catalogue grows at 50 articles a day, so "the last 7 days" is
the same 350 articles at any size, and the searched words appear in the same 30 articles; the last
case searches a word in 10% of the articles, whose cost grows with its matches. Not a test: run it
by hand (minutes at 100k).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout: its own `api`

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/syndicate_bench_listings"
PER_DAY = 50
SEARCHED = 30  # articles whose headline or standfirst holds "drought" and "talks"
RARE = 20  # articles with the tag "rare"
BATCH = 5000
NOW = datetime(2026, 12, 1, tzinfo=UTC)
WORDS = ("minister", "border", "election", "protest", "court", "oil", "ceasefire", "report", "aid", "market",
         "summit", "strike", "water", "refugees", "trade", "vote", "army", "talks", "visit", "deal")
SECTIONS = ("news", "opinion", "politics", "business", "culture", "sport", "middle-east", "africa", "europe", "asia")


def _rows(n: int, seed: int = 11):
    """Article and article_tag rows, newest last; the same distributions at every size."""
    from api.core.db import new_id

    rng = random.Random(seed)
    searched = set(rng.sample(range(n), SEARCHED))
    rare = set(rng.sample(range(n), RARE))
    for i in range(n):
        published = NOW - timedelta(days=(n - i) / PER_DAY)
        updated = published + timedelta(minutes=rng.randint(0, 600))
        headline = " ".join(rng.choice(WORDS) for _ in range(6)).replace("talks", "meets")
        standfirst = "Analysis of " + " ".join(rng.choice(WORDS) for _ in range(10)).replace("talks", "meets")
        if i in searched:  # both words, apart: found by the words, not the phrase
            headline, standfirst = f"Drought deepens as {headline}", f"{standfirst}; talks resume"
        if i % 10 == 0:
            standfirst += " exclusive"
        tags = [f"tag-{rng.randrange(100)}", f"tag-{rng.randrange(100)}"] + (["rare"] if i in rare else [])
        article_id = new_id("art")
        yield ({"id": article_id, "slug": f"a-{i}", "canonical_url": f"https://www.middleeasteye.net/news/a-{i}",
                "headline": headline, "standfirst": standfirst, "body_html": f"<p>{standfirst}</p>",
                "body_text": standfirst, "byline": "MEE staff", "authors": ["MEE staff"], "section": SECTIONS[i % 10],
                "tags": sorted(set(tags)), "language": "en", "word_count": 12, "status": "published",
                "licensable": True, "version": 1, "content_hash": f"{i:064x}", "published_at": published,
                "updated_at": updated, "created_at": published},
               [{"article_id": article_id, "tag": t, "updated_at": updated, "published_at": published}
                for t in sorted(set(tags))])


def build(database_url: str, n: int) -> float:
    """A fresh migrated database with `n` articles; returns the seconds the inserts took."""
    from sqlalchemy import insert, text

    import api.models  # noqa: F401
    from api.catalogue.models import Article, ArticleTag
    from api.core.db import make_engine
    from api.core.migrations import upgrade
    from benchmarks.delivery import fresh_postgres_database

    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        fresh_postgres_database(engine)
    upgrade(database_url)
    started = time.perf_counter()
    articles, tags = [], []
    with engine.begin() as connection:
        for article, tag_rows in _rows(n):
            articles.append(article)
            tags.extend(tag_rows)
            if len(articles) == BATCH:
                connection.execute(insert(Article.__table__), articles)  # type: ignore[attr-defined]
                connection.execute(insert(ArticleTag.__table__), tags)  # type: ignore[attr-defined]
                articles, tags = [], []
        if articles:
            connection.execute(insert(Article.__table__), articles)  # type: ignore[attr-defined]
            connection.execute(insert(ArticleTag.__table__), tags)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return elapsed


def cases() -> dict[str, dict]:
    week = NOW - timedelta(days=7)
    return {
        "no filter": {},
        "updated_since (last day)": {"updated_since": NOW - timedelta(days=1)},
        "section": {"section": "politics"},
        "tag (2% of articles)": {"tag": "tag-7"},
        f"tag (rare: {RARE} articles)": {"tag": "rare"},
        "published_from (last 7 days)": {"published_from": week},
        "published_to (before 10 days ago)": {"published_to": NOW - timedelta(days=10)},
        "section + published_from": {"section": "politics", "published_from": week},
        "tag + published_from": {"tag": "tag-7", "published_from": week},
        f"q=drought talks ({SEARCHED} matches)": {"q": "drought talks"},
        "q=drought talks + section": {"q": "drought talks", "section": "news"},
        "q=exclusive (10% match: grows)": {"q": "exclusive"},
    }


def measure(database_url: str, kwargs: dict, repeat: int) -> tuple[float, float, float, str]:
    """(median ms, p90 ms) of page 1, median ms of page 5 (NaN with fewer pages), and the work page 1
    does in the database, which load on a shared machine hardly changes: SQLite virtual-machine
    steps; PostgreSQL buffers (shared hit + read) and the server's execution time (EXPLAIN ANALYZE)."""
    from sqlmodel import Session

    from api.catalogue import service
    from api.core.db import make_engine, read_only

    engine = read_only(make_engine(database_url))

    def timed(cursor: str | None) -> tuple[float, str | None]:
        with Session(engine) as session:
            started = time.perf_counter()
            _rows, next_cursor = service.list_articles(session, cursor=cursor, limit=50, **kwargs)
            return (time.perf_counter() - started) * 1000, next_cursor

    timed(None)  # warm the connection and the caches
    first = sorted(timed(None)[0] for _ in range(repeat))
    cursor = None
    for _ in range(4):
        _ms, cursor = timed(cursor)
        if cursor is None:
            break
    fifth = statistics.median(timed(cursor)[0] for _ in range(repeat)) if cursor else float("nan")
    with Session(engine) as session:
        work = _work(session, lambda: service.list_articles(session, limit=50, **kwargs))
    engine.dispose()
    return statistics.median(first), first[int(len(first) * 0.9) - 1], fifth, work


def _work(session, call) -> str:
    from sqlalchemy import event

    connection = session.connection()
    if connection.dialect.name == "sqlite":
        steps = [0]
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 100)  # returns None: go on
        try:
            call()
        finally:
            raw.set_progress_handler(None, 100)
        return f"{steps[0] * 100:,}"
    statements: list = []
    record = lambda _c, _cur, statement, parameters, _ctx, _many: statements.append((statement, parameters))  # noqa: E731
    event.listen(connection, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    buffers, executed = 0, 0.0
    for statement, parameters in statements:
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters).scalar()
        top = plan[0]["Plan"]
        buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        executed += plan[0]["Execution Time"]
    return f"{buffers:,} ({executed:.2f} ms)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL URL (default {PG_DEFAULT}; recreated)")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, tuple[float, float, float, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            url = (args.database_url or PG_DEFAULT) if args.db == "postgres" else f"sqlite:///{tmp}/listings-{n}.db"
            seconds = build(url, n)
            print(f"{args.db}: {n:,} articles inserted in {seconds:.1f} s", flush=True)
            results[n] = {name: measure(url, kwargs, args.repeat) for name, kwargs in cases().items()}
    unit = "VM steps" if args.db == "sqlite" else "buffers (server ms)"
    header = " | ".join(f"{n:,}: p50 / p90 / page 5 ms, {unit}" for n in sizes)
    print(f"\n| listing ({args.db}) | {header} |")
    print("| --- |" + " --- |" * len(sizes))
    for name in cases():
        cells = " | ".join(" / ".join("-" if v != v else f"{v:.2f}" for v in results[n][name][:3])
                           + f", {results[n][name][3]}" for n in sizes)
        print(f"| {name} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
