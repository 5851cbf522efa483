"""Benchmark of the content endpoint against a bare ASGI app, over real HTTP, in one run.

    python -m benchmarks.delivery --db sqlite            # or: --db postgres [--database-url URL]

Run from the repository root (the benchmarks are not part of the installed package or the image).

Builds a fresh database with demo data (partner, an article whose licensed JSON is ~11 kB, active
licence) and mints a real token; starts uvicorn (one worker, uvloop + httptools, pinned to CPU 0
when possible) with the real app, then with a bare ASGI app returning the same response (the body
and the headers the content endpoint sent: ETag, Last-Modified, Link, Vary, ...) on the same
settings; loads each with `wrk -t1 -c64` (pinned to CPU 1) or, without wrk, an aiohttp load
generator in a separate process; prints requests/s, p50 and p99 for both and their ratio, and checks that every
200 the content endpoint served was recorded as a usage event (exit status 1 if not). Not a test:
run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BODY_ENV = "SYNDICATE_BENCH_BODY"
HEADERS_ENV = "SYNDICATE_BENCH_HEADERS"
REPOSITORY = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/syndicate_bench"


# --- the bare ASGI app: the Python ceiling on the same server settings ----------------------------

def _bare_app():
    path, headers_path = os.environ.get(BODY_ENV), os.environ.get(HEADERS_ENV)
    body = Path(path).read_bytes() if path else b"{}"
    # The content endpoint's own response headers (uvicorn adds date and server to both apps).
    headers = ([(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(Path(headers_path).read_text())]
               if headers_path else [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())])

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def __getattr__(name: str):  # `uvicorn benchmarks.delivery:bare_app` without building it at import
    if name == "bare_app":
        return _bare_app()
    raise AttributeError(name)


# --- demo data -----------------------------------------------------------------------------------

def prepare(database_url: str) -> tuple[str, str]:
    """Fresh schema, demo data and a real token; returns (article id, token)."""
    import api.models  # noqa: F401
    from api.audit.service import Actor
    from api.catalogue import service as catalogue
    from api.catalogue.schemas import ArticleCreate, AssetCreate
    from api.core.config import Settings
    from api.core.db import make_engine, session_scope, utcnow
    from api.core.migrations import upgrade
    from api.partners import service as partners
    from api.partners.models import PartnerStatus

    settings = Settings(database_url=database_url)
    engine = make_engine(settings.database_url)
    if engine.dialect.name == "postgresql":
        fresh_postgres_database(engine)
    upgrade(settings.database_url)  # the schema production runs: the migrations, not create_all
    actor = Actor.system()
    paragraph = ("<p>Russia's president made a surprise visit to Damascus on Tuesday, meeting his Syrian counterpart "
                 "at a command centre of Russian forces, as regional tensions intensified after a US strike.</p>")
    with session_scope(engine) as session:
        partner = partners.create_partner(
            session, name="Bench Outlet", country="GB", billing_email="bench@outlet.example", currency="GBP",
            website="https://outlet.example", contacts=[{"name": "Editor", "email": "editor@outlet.example"}],
            status=PartnerStatus.active, actor=actor)
        article, _c, _u = catalogue.upsert_article(session, ArticleCreate(
            headline="Putin makes surprise visit to Syria", standfirst="Rare visit as regional tensions intensify",
            body_html=paragraph * 20, byline="MEE staff", authors=["MEE staff"],
            canonical_url="https://www.middleeasteye.net/news/putin-syria-visit", section="news",
            tags=["Russia", "Syria"], assets=[AssetCreate(url="https://img.example.com/p.jpg", caption="Putin and Assad",
                                                          credit="Reuters")]), actor=actor)
        _licence_id, token = free_catalogue_token(session, settings, partner.id, now=utcnow(), actor=actor)
        article_id = article.id
    engine.dispose()
    return article_id, token


def free_catalogue_token(session, settings, partner_id: str, *, now, actor) -> tuple[str, str]:
    """A free web licence to the whole catalogue for 30 days, granted, and a token for it:
    (licence id, token)."""

    from api.delivery import service as delivery
    from api.licensing import service as licensing
    from api.licensing.models import LicenceRequest
    from api.licensing.states import RequestState

    request = LicenceRequest(
        partner_id=partner_id, scope="catalogue", use="web", territories=["GB"], language="en",
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=30), audience_size=1000,
        currency="GBP", quoted_amount=0, billing_mode="free", state=RequestState.approved)
    session.add(request)
    session.flush()
    licence = licensing.grant(session, request, amount=0, conditions=[], actor=actor)
    token, _row, _lic = delivery.mint_token(session, settings, licence_id=licence.id, partner_id=partner_id)
    return licence.id, token


def fresh_postgres_database(engine) -> None:
    """Create the benchmark database if it is missing, and empty it if it is not."""
    from sqlalchemy import create_engine, text

    name = engine.url.database
    maintenance = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    maintenance.dispose()
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def count_usage(database_url: str, *, republications_only: bool = False) -> int:
    """Usage events recorded (only the billable first fetches, if asked)."""
    from sqlalchemy import text

    from api.core.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        where = " WHERE billable" if republications_only else ""
        count = connection.execute(text(f"SELECT count(*) FROM usage_event{where}")).scalar_one()
    engine.dispose()
    return int(count)


# --- servers and load ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database_beside_the_load(database_url: str):
    """On a local PostgreSQL, move the server's processes to the load generator's CPU for the run
    (and back after), so the app under test has CPU 0 to itself, as the bare app does; in
    production the database has a host of its own. Best effort: without the rights, say so."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    if engine.url.host not in ("127.0.0.1", "localhost") or (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        engine.dispose()
        yield "not moved (not a local server, or one CPU)"
        return
    with engine.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    engine.dispose()
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == postmaster]
    saved: dict[int, set[int]] = {}
    try:
        for pid in [postmaster, *children]:
            try:
                saved[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, {1})
            except (PermissionError, ProcessLookupError):
                pass
        yield f"server moved to CPU 1 with the load generator ({len(saved)} processes)" if saved else "not moved (no rights)"
    finally:
        # New backends forked meanwhile inherit the postmaster's mask: give every process back all CPUs.
        for pid in {postmaster, *saved, *[int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == postmaster]}:
            try:
                os.sched_setaffinity(pid, saved.get(pid) or saved.get(postmaster) or set(range(os.cpu_count() or 1)))
            except (PermissionError, ProcessLookupError):
                pass


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else command


def start_server(target: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    command = pinned(0, [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
                         "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                         "--log-level", "warning"])
    process = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"server {target} exited with {process.returncode}")
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server {target} did not start")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, headers: dict[str, str], connections: int, seconds: int) -> dict[str, float]:
    command = pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *[
        part for k, v in headers.items() for part in ("-H", f"{k}: {v}")], url])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    total = re.search(r"(\d+) requests in", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
            "p50": _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
            "p99": _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
            "errors": float(errors.group(1)) if errors else 0.0, "requests": float(total.group(1)) if total else 0.0}


async def _aiohttp_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                errors += response.status >= 400
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*[worker(session) for _ in range(connections)])
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99)], "errors": float(errors), "requests": float(len(latencies))}


def run_load(url: str, headers: dict[str, str], connections: int, seconds: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, headers, connections, seconds)
    # A separate (pinned) process, so the load generator does not share the server's interpreter.
    command = pinned(1, [sys.executable, "-m", "benchmarks.delivery", "--load", url, "--connections", str(connections),
                         "--duration", str(seconds), "--header", json.dumps(headers)])
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPOSITORY).stdout)


def measure(apps: list[tuple[str, str, dict[str, str], dict[str, str]]], args) -> tuple[list[list[dict[str, float]]], list[dict[str, float]]]:
    """Start every app (target, url, headers, env) on its own port, warm each up, then alternate the
    measured runs between them, so a change in the machine's load hits both alike. Returns the
    measured runs of each app and each app's warm-up."""
    servers, urls = [], []
    try:
        for target, url, _headers, env in apps:
            port = free_port()
            servers.append(start_server(target, port, env))
            urls.append(url.format(port=port))
        # Warm-up: caches, pools, the page cache.
        warmups = [run_load(url, headers, args.connections, args.warmup) for url, (_t, _u, headers, _e) in zip(urls, apps)]
        results: list[list[dict[str, float]]] = [[] for _ in apps]
        for _ in range(args.runs):
            for i, (url, (_t, _u, headers, _e)) in enumerate(zip(urls, apps)):
                results[i].append(run_load(url, headers, args.connections, args.duration))
        return results, warmups
    finally:
        for server in servers:
            stop_server(server)


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {PG_DEFAULT}); its tables are recreated!")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per app; medians are printed")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per app")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--header", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:  # the aiohttp load generator, in its own process
        print(json.dumps(asyncio.run(_aiohttp_load(args.load, json.loads(args.header), args.connections, args.duration))))
        return

    workdir = Path(tempfile.mkdtemp(prefix="syndicate-bench-"))
    database_url = (args.database_url or PG_DEFAULT) if args.db == "postgres" else f"sqlite:///{workdir / 'bench.db'}"
    article_id, token = prepare(database_url)
    # The bare app and the load generator are imported from this folder by their own processes.
    pythonpath = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "SYNDICATE_DATABASE_URL": database_url, "SYNDICATE_TOKEN_RATE_LIMIT": "1000000000/second",
           "SYNDICATE_RUN_WORKER_IN_PROCESS": "false", "SYNDICATE_ENVIRONMENT": "production",
           "SYNDICATE_SECRET_KEY": "bench-secret-key-that-is-long-enough", "SYNDICATE_REDIS_URL": "",
           "SYNDICATE_PUBLIC_BASE_URL": "https://syndicate.bench.example",
           # The easiest case: no access log unless asked for (SYNDICATE_ACCESS_LOG=true measures its cost).
           "SYNDICATE_ACCESS_LOG": os.environ.get("SYNDICATE_ACCESS_LOG", "false")}
    env.pop("SYNDICATE_REDIS_URL")
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/v1/content/articles/{article_id}"

    # The exact bytes the content endpoint serves, for the bare app.
    import httpx

    port = free_port()
    server = start_server("api.main:app", port, env)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers)
        response.raise_for_status()
    finally:
        stop_server(server)
    body_file = workdir / "body.json"
    body_file.write_bytes(response.content)
    headers_file = workdir / "headers.json"
    headers_file.write_text(json.dumps([(k, v) for k, v in response.headers.items() if k not in ("date", "server")]))
    usage_before = count_usage(database_url)

    apps = [("api.main:app", "http://127.0.0.1:{port}" + path, headers, env),
            ("benchmarks.delivery:bare_app", "http://127.0.0.1:{port}/", {}, {**env, BODY_ENV: str(body_file), HEADERS_ENV: str(headers_file)})]
    with (database_beside_the_load(database_url) if args.db == "postgres" else contextlib.nullcontext("")) as placed:
        print(f"database: {args.db}{'; ' + placed if placed else ''}; body {len(response.content)} bytes; "
              f"{args.connections} connections; {args.runs} x {args.duration}s per app; "
              f"load: {'wrk' if shutil.which('wrk') else 'aiohttp'}", flush=True)
        (content, bare), warmups = measure(apps, args)
    recorded = count_usage(database_url) - usage_before

    print(f"{'app':<22}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}")
    for name, runs in (("content endpoint", content), ("bare ASGI", bare)):
        print(f"{name:<22}{median(runs, 'rps'):>12,.0f}{median(runs, 'p50'):>10.2f}{median(runs, 'p99'):>10.2f}"
              f"{sum(r['errors'] for r in runs):>9.0f}")
    ratio = median(content, "rps") / median(bare, "rps")
    print(f"ratio content/bare: {ratio:.2f}x (target >= 0.50x)")
    served = sum(r["requests"] for r in content) + warmups[0]["requests"]
    errors = sum(r["errors"] for r in content) + warmups[0]["errors"]
    # The load generator counts completed responses; a request in flight when it stopped may have
    # been recorded without being counted, so recorded >= served, never fewer.
    complete = recorded >= served and errors == 0
    print(f"usage events recorded: {recorded:,}; 200 responses counted by the load generator: {served:,.0f} "
          f"-> {'every delivery was recorded' if complete else 'MISSING USAGE EVENTS OR ERRORS'}")
    if not shutil.which("wrk"):
        print("note: without wrk the Python load generator is the bottleneck; install wrk for real figures")
    shutil.rmtree(workdir, ignore_errors=True)
    if not complete:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
