"""One partner key floods the JSON API: does the server stay up, and how long does `/healthz` take meanwhile?

    python -m benchmarks.api_flood                   # SQLite in a temporary directory
    python -m benchmarks.api_flood --database-url postgresql+psycopg://postgres@127.0.0.1/syndicate_flood
    python -m benchmarks.api_flood --no-limits       # every rate limit off: the capacity gate alone

Run from the repository root (the benchmarks are not part of the installed package or the image).

The server is `uvicorn api.main:app` in its own process on a free 127.0.0.1 port (one worker, as
`syndicate serve` runs it); `--requests` GETs of `/v1/licences` on one key are sent `--concurrency`
at a time while `/healthz` is probed every 20 ms. Prints the answers by status and the probe's
latency (p50 / p99 / max). Bounded: it stops after its requests, or after `--seconds` at most.
The test (tests/core/test_api_limits.py) drives the same `flood` against an in-process server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class FloodResult:
    statuses: Counter = field(default_factory=Counter)
    problem_types: Counter = field(default_factory=Counter)
    not_problem_json: int = 0  # non-2xx answers that were not application/problem+json
    failed: int = 0  # connection errors or client timeouts
    failures: Counter = field(default_factory=Counter)  # their kinds
    health: list[float] = field(default_factory=list)  # /healthz latencies (s) during the flood
    health_failures: int = 0  # /healthz answers other than 200, or none


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def flood(base_url: str, *, headers: dict[str, str], path: str = "/v1/licences", requests: int = 200,
                concurrency: int = 200, seconds: float = 60.0, timeout: float = 30.0) -> FloodResult:
    """`requests` GETs of `path`, `concurrency` in flight, while /healthz is probed on its own connection
    from a thread of its own."""
    result = FloodResult()
    stop = threading.Event()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
        queue = iter(range(requests))

        async def one_worker() -> None:
            for _ in queue:
                try:
                    response = await client.get(path, headers=headers)
                except httpx.HTTPError as exc:
                    result.failed += 1
                    result.failures[type(exc).__name__] += 1
                    continue
                result.statuses[response.status_code] += 1
                if response.status_code >= 300:
                    if response.headers.get("content-type", "").startswith("application/problem+json"):
                        result.problem_types[response.json().get("type")] += 1
                    else:
                        result.not_problem_json += 1

        prober_thread = threading.Thread(target=_probe_health, args=(base_url, timeout, stop, result), daemon=True)
        prober_thread.start()
        try:
            await asyncio.wait_for(asyncio.gather(*(one_worker() for _ in range(concurrency))), seconds)
        finally:
            stop.set()
            await asyncio.to_thread(prober_thread.join)
    return result


def _probe_health(base_url: str, timeout: float, stop: threading.Event, result: FloodResult) -> None:
    """In a thread of its own, so the probe's latency is the server's, not the flooding client's loop."""
    with httpx.Client(base_url=base_url, timeout=timeout) as prober:
        while True:  # at least one probe, however short the flood
            started = time.perf_counter()
            try:
                ok = prober.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            result.health.append(time.perf_counter() - started)
            result.health_failures += not ok
            if stop.wait(0.02):
                break


def report(result: FloodResult) -> str:
    health = sorted(result.health)
    p99 = health[min(len(health) - 1, int(len(health) * 0.99))] if health else float("nan")
    return "\n".join([
        f"answers by status: {dict(sorted(result.statuses.items()))}; problem types: {dict(result.problem_types)}",
        f"non-problem error bodies: {result.not_problem_json}; connection errors: {result.failed} "
        f"{dict(result.failures) or ''}",
        f"/healthz during the flood: {len(health)} probes, {result.health_failures} failed; "
        f"p50 {statistics.median(health) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {health[-1] * 1000:.1f} ms"
        if health else "/healthz: no probe completed",
    ])


def prepare(database_url: str) -> str:
    """Migrated schema, one active partner and its API key (returned), and a few licences to list."""
    import api.models  # noqa: F401
    from api.audit.service import Actor
    from api.core.db import make_engine, session_scope
    from api.core.migrations import upgrade
    from api.partners import keys as partner_keys
    from api.partners import service as partners
    from api.partners.models import PartnerStatus

    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        partner = partners.create_partner(
            session, name=f"Flood Outlet {os.getpid()}-{time.time_ns()}", country="GB",
            billing_email="flood@outlet.example", currency="GBP", website="https://outlet.example",
            contacts=[{"name": "Editor", "email": "editor@outlet.example"}], status=PartnerStatus.active,
            actor=Actor.system())
        _key, raw = partner_keys.issue_key(session, partner_id=partner.id, name="flood")
    engine.dispose()
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-limits", action="store_true", help="turn every JSON API rate limit off")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/flood.db"
        key = prepare(database_url)
        port = free_port()
        env = {**os.environ, "SYNDICATE_DATABASE_URL": database_url, "SYNDICATE_ENVIRONMENT": "development",
               "SYNDICATE_RUN_WORKER_IN_PROCESS": "false"}
        if args.no_limits:
            env.update({f"SYNDICATE_{n}_RATE_LIMIT": "" for n in ("ADDRESS", "API_KEY", "ANONYMOUS")})
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                   "--port", str(port), "--log-level", "warning"], env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120  # a start bound, not a figure: a loaded machine took 18-30 s
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            result = asyncio.run(flood(url, headers={"X-API-Key": key}, requests=args.requests,
                                       concurrency=args.concurrency, seconds=args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=15)
    print(f"{args.requests} x GET /v1/licences on one key, {args.concurrency} at a time, "
          f"limits {'off' if args.no_limits else 'on'}, {database_url.split(':')[0]}")
    print(report(result))


if __name__ == "__main__":
    main()
