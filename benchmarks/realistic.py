"""The content endpoint at production shape: the shipped command, a realistic mix, against a bare app.

    python -m benchmarks.realistic --db sqlite [--workers 1] [--licences 10000] [--articles 10000]
    python -m benchmarks.realistic --db postgres [--database-url URL] --workers 2

Run from the repository root, with `wrk` installed (`apt-get install wrk`). Not a test.

What it does, in order:
1. Builds a fresh database through the services: `--articles` articles (about 6 kB of body each,
   one agency picture) and `--licences` partners, each with an active whole-catalogue licence and a
   real token.
2. Starts the server exactly as the Dockerfile and the README's production section do:
   `syndicate serve --host 127.0.0.1 --port P --workers N`, SYNDICATE_ENVIRONMENT=production,
   Redis-backed rate limits, the in-process worker on, the access log on (its default: the app's own, batched; uvicorn's is off).
3. Writes the request mix for each round: a token drawn uniformly, an article drawn Zipf-like by
   recency (most traffic on recent articles, a long tail of cold ones), 5 % of requests a licence's
   first fetch of an article (a republication), the rest re-fetches of what that licence already
   fetched; formats 60 % JSON, 20 % ninjs, 19 % HTML, 1 % feed pages. Caches start cold: the server
   has served nothing before round 1 but one request per format.
4. Starts a bare ASGI app on the same uvicorn settings (without an access log: the ceiling), which
   answers each request with the bytes and headers the real endpoint sent for that format.
5. Alternates the two under `wrk -t1 -c64` (with a Lua script walking the mix), `--rounds` times,
   and prints requests/s, p50/p99/p99.9, CPU time per request of each app's processes (from
   /proc/<pid>/stat), the ratio, the server's RSS at the end and the usage accounting check (every
   200 recorded as a usage event).

`--starts N` starts the shipped command N times (the last start is the one measured) and prints how
long each took to listen, and their median.

With one worker the server is pinned to CPU 0 and wrk to CPU 1; with two workers nothing is pinned,
so wrk shares their cores (on a 2-core machine that is what limits the factor).

Preparing 10k licences takes a couple of minutes: `--data DIR` keeps the database (SQLite: in DIR;
PostgreSQL: the database named by the URL), the tokens and each licence's history in DIR, and a
later run with the same DIR, database and sizes starts from them (the caches are still cold).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.delivery import (PG_DEFAULT, REPOSITORY, count_usage, free_catalogue_token, free_port,
                                 fresh_postgres_database, pinned, stop_server)

RESPONSES_ENV = "SYNDICATE_BENCH_RESPONSES"
FORMATS = (("json", "application/json", 0.60), ("ninjs", "application/vnd.iptc.ninjs+json", 0.20),
           ("html", "text/html", 0.19), ("feed", "application/json", 0.01))
FIRST_FETCH_SHARE = 0.05

LUA = r"""
local requests, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do
    local path, accept, token = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)")
    requests[#requests + 1] = wrk.format("GET", path, {["Accept"] = accept, ["Authorization"] = "Bearer " .. token})
  end
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, _)
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "p50": %.3f, "p99": %.3f, "p999": %.3f, ' ..
    '"non2xx": %d, "socket_errors": %d}\n', summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


# --- the bare ASGI app: the same bytes and headers per format ------------------------------------

def _bare_app():
    responses = json.loads(Path(os.environ[RESPONSES_ENV]).read_text())
    prepared = {kind: ([(k.encode("latin-1"), v.encode("latin-1")) for k, v in r["headers"]],
                       Path(r["body"]).read_bytes()) for kind, r in responses.items()}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        kind = ("feed" if scope["path"].endswith("/feed") else "ninjs" if b"ninjs" in accept
                else "html" if b"html" in accept else "json")
        headers, body = prepared[kind]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def __getattr__(name: str):  # `uvicorn benchmarks.realistic:bare_app`
    if name == "bare_app":
        return _bare_app()
    raise AttributeError(name)


# --- data ----------------------------------------------------------------------------------------

def prepare(database_url: str, *, licences: int, articles: int) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Fresh schema; `articles` articles (oldest first) and `licences` partners with an active
    catalogue licence and a token each. Returns (article ids oldest first, tokens, and each token's
    (licence id, partner id))."""
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
    upgrade(settings.database_url)
    actor = Actor.system()
    paragraph = ("<p>Russia's president made a surprise visit to Damascus on Tuesday, meeting his Syrian counterpart "
                 "at a command centre of Russian forces, as regional tensions intensified after a US strike.</p>")
    article_ids: list[str] = []
    started = time.monotonic()
    for first in range(0, articles, 1000):
        with session_scope(engine) as session:
            for n in range(first, min(first + 1000, articles)):
                article, _c, _u = catalogue.upsert_article(session, ArticleCreate(
                    headline=f"Regional tensions, day {n}", standfirst="Rare visit as regional tensions intensify",
                    body_html=paragraph * 12, byline="MEE staff", authors=["MEE staff"],
                    canonical_url=f"https://www.middleeasteye.net/news/story-{n}", section="news",
                    tags=["Russia", "Syria", f"day-{n % 50}"],
                    assets=[AssetCreate(url=f"https://img.example.com/{n}.jpg", caption="Talks", credit="Reuters")]),
                    actor=actor)
                article_ids.append(article.id)
    print(f"  {articles:,} articles in {time.monotonic() - started:.0f}s", flush=True)
    tokens: list[str] = []
    holders: list[tuple[str, str]] = []
    started = time.monotonic()
    now = utcnow()
    for first in range(0, licences, 500):
        with session_scope(engine) as session:
            for n in range(first, min(first + 500, licences)):
                partner = partners.create_partner(
                    session, name=f"Outlet {n}", country="GB", billing_email=f"billing{n}@outlet.example",
                    currency="GBP", website=f"https://outlet{n}.example",
                    contacts=[{"name": "Editor", "email": f"editor{n}@outlet.example"}],
                    status=PartnerStatus.active, actor=actor)
                licence_id, token = free_catalogue_token(session, settings, partner.id, now=now, actor=actor)
                tokens.append(token)
                holders.append((licence_id, partner.id))
    print(f"  {licences:,} licences and tokens in {time.monotonic() - started:.0f}s", flush=True)
    engine.dispose()
    return article_ids, tokens, holders


def seed_history(database_url: str, mix: "Mix", holders: list[tuple[str, str]], per_licence: int = 20) -> int:
    """What each licence already republished before the run (its first fetches, as usage events),
    so the measured mix re-fetches those and only FIRST_FETCH_SHARE of it are republications."""
    from sqlalchemy import insert

    import api.models  # noqa: F401
    from api.core.db import make_engine, new_id, utcnow
    from api.delivery.models import Republication, UsageDaily, UsageEvent

    engine = make_engine(database_url)
    rows, at = [], utcnow() - timedelta(hours=1)
    for index, (licence_id, partner_id) in enumerate(holders):
        chosen = list(dict.fromkeys(mix.article() for _ in range(per_licence)))
        mix.fetched[index] = chosen
        rows += [{"id": new_id("use"), "licence_id": licence_id, "partner_id": partner_id, "article_id": article,
                  "article_version": 1, "format": "json", "token_id": None, "billable": True, "at": at}
                 for article in chosen]
    # Through the usage log's three tables, as the writer records first fetches (api/delivery/usage_log.py).
    republications = [{"licence_id": r["licence_id"], "article_id": r["article_id"], "partner_id": r["partner_id"],
                       "usage_id": r["id"], "at": at} for r in rows]
    daily = [{"day": at.date(), "licence_id": r["licence_id"], "article_id": r["article_id"],
              "partner_id": r["partner_id"], "deliveries": 1, "republications": 1} for r in rows]
    with engine.begin() as connection:
        for table, values in ((UsageEvent, rows), (Republication, republications), (UsageDaily, daily)):
            for first in range(0, len(values), 5000):
                connection.execute(insert(table), values[first:first + 5000])
    engine.dispose()
    return len(rows)


class Mix:
    """The request mix, remembering what each licence has fetched across rounds."""

    def __init__(self, article_ids: list[str], tokens: list[str], seed: int = 7) -> None:
        self.recent_first = list(reversed(article_ids))
        self.tokens = tokens
        self.random = random.Random(seed)
        self.fetched: dict[int, list[str]] = {}
        # Zipf-like by recency: weight 1/(rank+1); cumulative for bisect sampling.
        weights = [1.0 / (rank + 1) for rank in range(len(self.recent_first))]
        self.cumulative = list(_accumulate(weights))

    def article(self) -> str:
        import bisect

        return self.recent_first[bisect.bisect_left(self.cumulative, self.random.random() * self.cumulative[-1])]

    def lines(self, count: int) -> list[str]:
        kinds = [k for k, _a, _w in FORMATS]
        weights = [w for _k, _a, w in FORMATS]
        accepts = {k: a for k, a, _w in FORMATS}
        out = []
        for _ in range(count):
            licence = self.random.randrange(len(self.tokens))
            kind = self.random.choices(kinds, weights)[0]
            if kind == "feed":
                out.append(f"/v1/content/feed\t{accepts[kind]}\t{self.tokens[licence]}")
                continue
            seen = self.fetched.setdefault(licence, [])
            if not seen or self.random.random() < FIRST_FETCH_SHARE:
                article = self.article()
                seen.append(article)
            else:
                article = self.random.choice(seen)
            out.append(f"/v1/content/articles/{article}\t{accepts[kind]}\t{self.tokens[licence]}")
        return out


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


# --- servers -------------------------------------------------------------------------------------

def wait_for(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.monotonic() - started
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{what} exited with {process.returncode}")
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{what} did not start")


def start_shipped(port: int, workers: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, float, float]:
    """`syndicate serve` as the Dockerfile runs it; returns the process, seconds until it listened and
    the CPU seconds its processes had used by then (less sensitive than the first to a loaded machine)."""
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    command = pinned(0, command) if workers == 1 else command
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    ready = wait_for(port, process, "syndicate serve")
    return process, ready, cpu_seconds(process)


def start_bare(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "benchmarks.realistic:bare_app", "--host", "127.0.0.1", "--port",
               str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    command = pinned(0, command) if workers == 1 else command
    process = subprocess.Popen(command, env=env, start_new_session=True)
    wait_for(port, process, "bare app")
    return process


def _group_stats(process: subprocess.Popen) -> dict[int, list[str]]:
    """/proc/<pid>/stat fields (after the command name) of the server and its worker processes."""
    group = os.getpgid(process.pid)
    stats: dict[int, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(proc.name) == process.pid or int(fields[1]) == process.pid or int(fields[2]) == group:
                stats[int(proc.name)] = fields
    return stats


def cpu_seconds(process: subprocess.Popen) -> float:
    """User + system CPU time used so far by the server and its worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    # utime and stime are the 14th and 15th fields of stat; the 12th and 13th after the name.
    return sum(int(fields[11]) + int(fields[12]) for fields in _group_stats(process).values()) / ticks


def rss_mb(process: subprocess.Popen) -> float:
    """Resident memory of the server and its worker processes."""
    total = 0
    for pid in _group_stats(process):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def run_wrk(port: int, lines_file: Path, script: Path, connections: int, seconds: int, workers: int,
            server: subprocess.Popen) -> dict[str, float]:
    """One round of the mix against `server`; its figures, with the server's CPU time per request."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}",
               "--", str(lines_file)]
    command = pinned(1, command) if workers == 1 else command
    cpu_before = cpu_seconds(server)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_used = cpu_seconds(server) - cpu_before
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_ms"] = cpu_used * 1000 / max(result["requests"], 1)
    return result


def capture_responses(port: int, article_id: str, token: str, workdir: Path) -> dict[str, dict]:
    """One real response per format: the bytes and headers the bare app will answer with."""
    import httpx

    captured = {}
    for kind, accept, _w in FORMATS:
        path = "/v1/content/feed" if kind == "feed" else f"/v1/content/articles/{article_id}"
        response = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Accept": accept, "Authorization": f"Bearer {token}"})
        response.raise_for_status()
        body = workdir / f"{kind}.body"
        body.write_bytes(response.content)
        captured[kind] = {"body": str(body), "headers": [(k, v) for k, v in response.headers.items()
                                                         if k not in ("date", "server")]}
    return captured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {PG_DEFAULT}); its tables are recreated!")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--licences", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per round and app")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--data", type=Path, help="keep the prepared data here and reuse it on later runs")
    parser.add_argument("--starts", type=int, default=1,
                        help="start the shipped command this many times and report how long each took to listen")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="syndicate-realistic-"))
    data = args.data.resolve() if args.data else workdir
    data.mkdir(parents=True, exist_ok=True)
    database_url = (args.database_url or PG_DEFAULT) if args.db == "postgres" else f"sqlite:///{data / 'bench.db'}"
    kept = _kept_data(data, database_url, args) if args.data else None
    if kept is None:
        print(f"preparing {args.db}: {args.articles:,} articles, {args.licences:,} licences", flush=True)
        article_ids, tokens, holders = prepare(database_url, licences=args.licences, articles=args.articles)
    else:
        article_ids, tokens, holders = kept["article_ids"], kept["tokens"], [tuple(h) for h in kept["holders"]]
        print(f"reusing {args.db} data in {data}: {args.articles:,} articles, {args.licences:,} licences", flush=True)
    pythonpath = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "SYNDICATE_DATABASE_URL": database_url,
           "SYNDICATE_ENVIRONMENT": "production", "SYNDICATE_SECRET_KEY": "bench-secret-key-that-is-long-enough",
           "SYNDICATE_REDIS_URL": args.redis_url, "SYNDICATE_PUBLIC_BASE_URL": "https://syndicate.bench.example"}
    subprocess.run(["redis-cli", "-u", args.redis_url, "flushdb"], capture_output=True)
    script = workdir / "mix.lua"
    script.write_text(LUA)
    mix = Mix(article_ids, tokens)
    if kept is None:
        print(f"  {seed_history(database_url, mix, holders):,} earlier republications recorded", flush=True)
        if args.data:
            (data / KEPT).write_text(json.dumps({
                "database_url": database_url, "licences": args.licences, "articles": args.articles,
                "article_ids": article_ids, "tokens": tokens, "holders": holders,
                "fetched": {str(k): v for k, v in mix.fetched.items()}}))
    else:
        mix.fetched = {int(k): v for k, v in kept["fetched"].items()}

    log = workdir / "server.log"
    port = free_port()
    starts, start_cpu = [], []
    for _ in range(args.starts - 1):  # starts only measured: stopped as soon as they listen
        server, ready, cpu = start_shipped(port, args.workers, env, log)
        stop_server(server)
        starts.append(ready)
        start_cpu.append(cpu)
    server, ready, cpu = start_shipped(port, args.workers, env, log)
    starts.append(ready)
    start_cpu.append(cpu)
    try:
        responses = capture_responses(port, article_ids[-1], tokens[0], workdir)
        (workdir / "responses.json").write_text(json.dumps(responses))
        bare_port = free_port()
        bare = start_bare(bare_port, args.workers, {**env, RESPONSES_ENV: str(workdir / "responses.json")})
        usage_before, republications_before = count_usage(database_url), count_usage(database_url, republications_only=True)
        shipped_runs, bare_runs = [], []
        articles_served = 0
        try:
            for round_ in range(args.rounds):
                lines = workdir / f"round{round_}.tsv"
                mixed = mix.lines(40_000 * args.duration)
                lines.write_text("\n".join(mixed) + "\n")
                shipped_runs.append(run_wrk(port, lines, script, args.connections, args.duration, args.workers,
                                            server))
                articles_served += article_requests(mixed, int(shipped_runs[-1]["requests"]))
                bare_runs.append(run_wrk(bare_port, lines, script, args.connections, args.duration, args.workers, bare))
                print(f"  round {round_ + 1}: shipped {shipped_runs[-1]['rps']:,.0f}/s, bare {bare_runs[-1]['rps']:,.0f}/s",
                      flush=True)
        finally:
            stop_server(bare)
        settled, seen = time.monotonic(), -1
        while time.monotonic() - settled < 10:  # the usage writer's last batches
            now_seen = count_usage(database_url)
            if now_seen == seen:
                break
            seen = now_seen
            time.sleep(1.0)
        memory = rss_mb(server)
    finally:
        stop_server(server)
    recorded = count_usage(database_url) - usage_before
    republications = count_usage(database_url, republications_only=True) - republications_before
    log_lines = sum(1 for _ in log.open("rb"))

    print(f"\ndatabase {args.db}; {args.workers} API worker(s); {args.licences:,} licences, {args.articles:,} articles; "
          f"{args.connections} connections; {args.rounds} x {args.duration}s per app; load average "
          f"{' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"`syndicate serve` listening after {statistics.median(starts):.2f}s (median of {len(starts)} start(s): "
          f"{', '.join(f'{s:.2f}' for s in starts)}); CPU used by then {statistics.median(start_cpu):.2f}s (median)")
    print(f"{'app':<20}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'CPU ms/req':>12}{'non-2xx':>9}")
    for name, runs in (("syndicate serve", shipped_runs), ("bare ASGI", bare_runs)):
        print(f"{name:<20}{statistics.median(r['rps'] for r in runs):>12,.0f}"
              f"{statistics.median(r['p50'] for r in runs):>9.2f}{statistics.median(r['p99'] for r in runs):>9.2f}"
              f"{statistics.median(r['p999'] for r in runs):>10.2f}{statistics.median(r['cpu_ms'] for r in runs):>12.3f}"
              f"{sum(r['non2xx'] for r in runs):>9.0f}")
    ratio = statistics.median(r["rps"] for r in shipped_runs) / statistics.median(r["rps"] for r in bare_runs)
    print(f"ratio shipped/bare (median of rounds): {ratio:.2f}x (target >= 0.60x)")
    print(f"server RSS at the end: {memory:.0f} MB; server log lines: {log_lines:,}")
    # wrk walks the mix in order, so the first `requests` lines of a round are what it completed;
    # a request in flight when a round stopped may be recorded without being counted.
    errors = sum(r["non2xx"] + r["socket_errors"] for r in shipped_runs)
    in_flight = args.connections * args.rounds
    complete = errors == 0 and articles_served <= recorded <= articles_served + in_flight
    print(f"usage events recorded: {recorded:,} ({republications:,} republications, "
          f"{republications / max(recorded, 1):.1%}); article responses completed: {articles_served:,} -> "
          f"{'every delivery recorded' if complete else 'MISSING USAGE EVENTS OR ERRORS'}")
    shutil.rmtree(workdir, ignore_errors=True)
    if not complete:
        raise SystemExit(1)


KEPT = "realistic.json"


def _kept_data(data: Path, database_url: str, args) -> dict | None:
    """What an earlier `--data` run prepared, if it was for this database and these sizes."""
    try:
        kept = json.loads((data / KEPT).read_text())
    except (OSError, ValueError):
        return None
    same = (kept.get("database_url"), kept.get("licences"), kept.get("articles")) == (database_url, args.licences, args.articles)
    return kept if same else None


def article_requests(lines: list[str], completed: int) -> int:
    """How many of the first `completed` requests (walking `lines` cyclically) were article fetches."""
    articles = [not line.startswith("/v1/content/feed") for line in lines]
    whole, rest = divmod(completed, len(lines))
    return whole * sum(articles) + sum(articles[:rest])


if __name__ == "__main__":
    main()
