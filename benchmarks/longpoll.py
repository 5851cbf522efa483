"""Benchmark: many long-polling feed clients held by one worker, over real HTTP.

    python -m benchmarks.longpoll --clients 1000 --hold 15       # or: --db postgres [--database-url URL]

Run from the repository root (the benchmarks are not part of the installed package or the image).

Builds a fresh database with demo data (benchmarks.delivery.prepare: a catalogue licence and its
token), starts uvicorn (one worker), then opens `--clients` connections that each ask
`GET /v1/content/feed?change_cursor=<head>&wait=30`. While they wait it samples the worker's RSS and
CPU once a second (from /proc): both should stay flat, since a waiting request is a parked
coroutine on one shared notifier, not a poller. Then this process (another process, as another
worker would be) updates the article, and the time until every client has its answer is printed:
on SQLite the notifier's one shared poll finds the change; on PostgreSQL LISTEN/NOTIFY brings it.
Not a test: run it by hand (tests/benchmarks/test_longpoll_smoke.py runs a tiny one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.delivery import PG_DEFAULT, REPOSITORY, free_port, prepare, start_server, stop_server

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def sample(pid: int, seconds: int) -> list[tuple[float, float]]:
    """(RSS MiB, CPU % of one core) once a second."""
    samples = []
    cpu, clock = cpu_seconds(pid), time.monotonic()
    for _ in range(seconds):
        await asyncio.sleep(1)
        now_cpu, now = cpu_seconds(pid), time.monotonic()
        samples.append((rss_mib(pid), 100 * (now_cpu - cpu) / (now - clock)))
        cpu, clock = now_cpu, now
    return samples


def change_article(database_url: str, article_id: str) -> None:
    from api.audit.service import Actor
    from api.catalogue import service as catalogue
    from api.catalogue.schemas import ArticleUpdate
    from api.core.db import make_engine, session_scope

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        catalogue.update_article(session, article_id, ArticleUpdate(headline="Changed while a thousand waited"),
                                 actor=Actor.system())
    engine.dispose()


async def run(args, base: str, token: str, pid: int, database_url: str, article_id: str) -> dict:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        async with client.get(f"{base}/v1/content/feed", headers=headers) as first:
            assert first.status == 200, await first.text()
            head = (await first.json())["change_cursor"]
        idle = await sample(pid, 2)
        answered: list[float] = []

        async def wait_for_change() -> int:
            async with client.get(f"{base}/v1/content/feed", headers=headers,
                                  params={"change_cursor": head, "wait": "30"}) as answer:
                body = await answer.json() if answer.status == 200 else {}
                answered.append(time.monotonic())
                return answer.status if body.get("items") else -answer.status

        waiters = [asyncio.create_task(wait_for_change()) for _ in range(args.clients)]
        await asyncio.sleep(args.settle)
        held = await sample(pid, args.hold)
        early = len(answered)
        changed_at = time.monotonic()
        await asyncio.to_thread(change_article, database_url, article_id)
        statuses = await asyncio.gather(*waiters)
    return {"idle": idle, "held": held, "early": early, "statuses": statuses,
            "wake_all": max(answered) - changed_at if answered else float("nan"),
            "wake_median": statistics.median(t - changed_at for t in answered) if answered else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {PG_DEFAULT}); its tables are recreated!")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--hold", type=int, default=15, help="seconds of sampling while every client waits")
    parser.add_argument("--settle", type=float, default=8, help="seconds for the clients to connect and park first")
    args = parser.parse_args()
    if args.hold + args.settle >= 28:
        parser.error("--hold plus --settle must stay under the 30 s wait")

    workdir = Path(tempfile.mkdtemp(prefix="syndicate-longpoll-"))
    database_url = (args.database_url or PG_DEFAULT) if args.db == "postgres" else f"sqlite:///{workdir / 'bench.db'}"
    article_id, token = prepare(database_url)
    pythonpath = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "SYNDICATE_DATABASE_URL": database_url,
           "SYNDICATE_TOKEN_RATE_LIMIT": "1000000000/second", "SYNDICATE_RUN_WORKER_IN_PROCESS": "false",
           "SYNDICATE_ENVIRONMENT": "production", "SYNDICATE_SECRET_KEY": "bench-secret-key-that-is-long-enough",
           "SYNDICATE_PUBLIC_BASE_URL": "https://syndicate.bench.example"}
    env.pop("SYNDICATE_REDIS_URL", None)
    port = free_port()
    server = start_server("api.main:app", port, env)
    try:
        result = asyncio.run(run(args, f"http://127.0.0.1:{port}", token, server.pid, database_url, article_id))
    finally:
        stop_server(server)

    idle_rss, idle_cpu = result["idle"][-1][0], statistics.mean(c for _, c in result["idle"])
    rss = [r for r, _ in result["held"]]
    cpu = [c for _, c in result["held"]]
    woken = sum(1 for s in result["statuses"] if s == 200)
    print(f"database: {args.db}; {args.clients} clients waiting on one worker for {args.hold} s")
    print(f"idle:            RSS {idle_rss:.1f} MiB, CPU {idle_cpu:.1f} %")
    print(f"while waiting:   RSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB (min {min(rss):.1f}, max {max(rss):.1f}); "
          f"CPU mean {statistics.mean(cpu):.1f} %, max {max(cpu):.1f} %")
    print("samples (RSS MiB / CPU %): " + ", ".join(f"{r:.0f}/{c:.0f}" for r, c in result["held"]))
    print(f"per waiting client: {(rss[-1] - idle_rss) * 1024 / max(args.clients, 1):.1f} KiB")
    print(f"answered before the change: {result['early']} (should be 0); statuses: "
          f"{ {s: result['statuses'].count(s) for s in set(result['statuses'])} }")
    print(f"after one change: {woken}/{args.clients} answered with it; median {result['wake_median'] * 1000:.0f} ms, "
          f"last {result['wake_all'] * 1000:.0f} ms")
    if woken != args.clients or result["early"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
