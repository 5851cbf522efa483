"""What a beacon hit costs, over real HTTP: a live copy, and a killed copy (each hit also adds to
its still-live case), on the real app under uvicorn.

    python -m benchmarks.beacon [--database-url URL] [--requests 3000] [--connections 32]

Run from the repository root. Builds a fresh database (SQLite in a temporary directory unless
given), a partner, a licence to two articles, then withdraws the second; fires `--requests` beacon
requests per copy from `--connections` concurrent clients, each request from a browser user agent on
one of 200 pages (so views, reloads and new pages all occur), and prints requests/s with p50 and
p99. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlmodel import Session

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")


async def _load(base: str, path: str, requests: int, connections: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for n in counter:
                headers = {"User-Agent": f"{CHROME} n/{n % 50}", "Referer": f"https://outlet.example/page-{n % 200}?utm_source=x",
                           "Sec-Fetch-Dest": "image"}
                started = time.perf_counter()
                answer = await http.get(path, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return requests / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    from api.app import create_app
    from api.catalogue import service as catalogue
    from api.core.db import metadata
    from api.core.migrations import stamp
    from api.delivery import render
    from tests.builders import TEST_ACTOR, make_article, make_licence, make_partner
    from tests.conftest import make_settings
    from tests.live_server import free_port, served

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'beacon-bench.db'}"
    port = free_port()
    settings = make_settings(url, public_base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, run_worker=False)
    engine = app.state.engine
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        metadata.create_all(connection)
    stamp(url)
    with Session(engine) as session:
        partner = make_partner(session)
        articles = [make_article(session), make_article(session)]
        licence = make_licence(session, partner=partner, articles=articles, scope="bundle")
        catalogue.withdraw_article(session, articles[1].id, reason="Legal", actor=TEST_ACTOR)
        session.commit()
        licence_id, article_ids = licence.id, [a.id for a in articles]
    publisher = render.Publisher(name=settings.publisher_name, copyright_holder=settings.copyright_holder,
                                 base_url=settings.public_base_url,
                                 secret=("beacon:" + settings.secret_key.get_secret_value()).encode())
    with served(app, port) as base:
        for label, article_id in (("live copy", article_ids[0]), ("killed copy (still-live case)", article_ids[1])):
            path = render.beacon_url(publisher, licence_id, article_id).removeprefix(base)
            asyncio.run(_load(base, path, 200, args.connections))  # warm-up
            rate, latencies = asyncio.run(_load(base, path, args.requests, args.connections))
            quantiles = statistics.quantiles(latencies, n=100)
            print(f"{label:32} {rate:7.0f} requests/s   p50 {quantiles[49] * 1000:6.1f} ms   "
                  f"p99 {quantiles[98] * 1000:6.1f} ms   ({args.requests} requests, {args.connections} connections, "
                  f"{engine.dialect.name})")


if __name__ == "__main__":
    main()
