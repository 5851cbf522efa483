"""The usage log at size: a period invoice over many partners and millions of usage events, and a report page.

    python -m benchmarks.scale --db postgres [--database-url URL] [--partners 10000] [--events 10000000]
    python -m benchmarks.scale --db sqlite [--partners 10000] [--events 1000000]
    python -m benchmarks.scale --db postgres --database-url URL --reuse   # again on a database built before

Run from the repository root. Not a test (tests/benchmarks/test_scale_smoke.py runs it tiny).

What it does:
1. A fresh database through the migrations; 50 articles, one partner and its usage-billed licence
   through the services, the licence's charge (which makes the partner's provider customer, as the
   outbox does at approval), then `--partners - 1` copies of that partner, its request, licence and
   customer by SQL.
2. The last month's usage partitions through the partitions job, then `--events` usage events
   generated in SQL (generate_series on PostgreSQL, a recursive CTE on SQLite) spread evenly over
   the month: each licence fetches 50 articles, its first fetch of each billable; republications
   and daily rollups are derived from the events by SQL, as the writer would have written them.
3. The period run for that month on the ledger backend, counting every provider call (calls of
   the billing interface: on Stripe, issue_invoice is several HTTP requests), timed.
4. The staff usage report for that month (the console's usage page runs the same queries), timed;
   and one licence's quota seed (this month's deliveries), timed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/syndicate_bench_scale"
ARTICLES_PER_LICENCE = 50


class CountingBackend:
    """The ledger backend, counting calls by method."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str):
        found = getattr(self._backend, name)
        if not callable(found):
            return found

        def call(*args, **kwargs):
            self.calls[name] += 1
            return found(*args, **kwargs)

        return call


def _series(dialect: str, count: int) -> tuple[str, str]:
    """(WITH clause, FROM item) yielding g = 1..count."""
    if dialect == "postgresql":
        return "", f"generate_series(1, {int(count)}) AS s(g)"
    return f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {int(count)}) ", "s"


def _clone(connection, table: str, template_id: str, copies: int, rewrite: dict[str, str]) -> None:
    """`copies` copies of one row, `g` numbering them; `rewrite` gives SQL for the columns that change."""
    from sqlalchemy import inspect, text

    columns = [c["name"] for c in inspect(connection).get_columns(table)]
    with_, series = _series(connection.dialect.name, copies)
    values = ", ".join(rewrite.get(c, f'"{c}"') for c in columns)
    connection.execute(text(f'{with_}INSERT INTO "{table}" ({", ".join(columns)}) SELECT {values} '
                            f'FROM "{table}", {series} WHERE id = :template'), {"template": template_id})


def build(database_url: str, *, partners: int, events: int, now: datetime) -> dict:
    from sqlalchemy import text

    import api.models  # noqa: F401
    from api.audit.service import Actor
    from api.catalogue import service as catalogue
    from api.catalogue.schemas import ArticleCreate
    from sqlmodel import select

    from api.core.config import Settings
    from api.core.db import make_engine, session_scope
    from api.core.migrations import upgrade
    from api.core.months import add_months, month_start
    from api.invoicing import charging
    from api.invoicing.models import BillingCustomer
    from api.invoicing.usage_retention import ensure_partitions
    from api.licensing import service as licensing
    from api.licensing.models import LicenceRequest
    from api.licensing.states import RequestState
    from api.partners import service as partner_service
    from api.partners.models import PartnerStatus
    from billing.ledger import LedgerBackend

    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        from benchmarks.delivery import fresh_postgres_database

        fresh_postgres_database(engine)
    upgrade(database_url)
    period_start = add_months(month_start(now), -1)
    period_end = month_start(now)
    actor = Actor.system()
    timings = {}
    started = time.monotonic()
    with session_scope(engine) as session:
        article_ids = []
        for n in range(ARTICLES_PER_LICENCE):
            article, _c, _u = catalogue.upsert_article(session, ArticleCreate(
                headline=f"Regional tensions, day {n}", body_html="<p>Talks stall as the drought deepens.</p>",
                byline="MEE staff", authors=["MEE staff"], section="news", tags=["gulf"],
                canonical_url=f"https://www.middleeasteye.net/news/scale-{n}"), actor=actor)
            article_ids.append(article.id)
        partner = partner_service.create_partner(
            session, name="Outlet", country="GB", billing_email="billing@outlet.example", currency="GBP",
            website="https://outlet.example", contacts=[{"name": "Editor", "email": "editor@outlet.example"}],
            status=PartnerStatus.active, actor=actor)
        request = LicenceRequest(
            partner_id=partner.id, scope="catalogue", use="web", territories=["GB"], language="en",
            starts_at=period_start - timedelta(days=1), ends_at=now + timedelta(days=300), audience_size=1000,
            currency="GBP", quoted_amount=25, billing_mode="usage", state=RequestState.approved)
        session.add(request)
        session.flush()
        licence = licensing.grant(session, request, amount=25, conditions=[], actor=actor)
        template = {"partner": partner.id, "request": request.id, "licence": licence.id}
    # The approval's charge: a metered licence gets its partner's provider customer, nothing else.
    charging.charge_now(engine, licence_id=template["licence"], backend=LedgerBackend(),
                        settings=Settings(database_url=database_url))
    with session_scope(engine) as session:
        template["customer"] = session.exec(select(BillingCustomer.id)).one()
    suffix = "'_' || CAST(g AS TEXT)"
    with engine.begin() as connection:
        copies = partners - 1
        if copies > 0:
            _clone(connection, "partner", template["partner"], copies,
                   {"id": f"id || {suffix}", "name": "name || ' ' || CAST(g AS TEXT)"})
            _clone(connection, "licence_request", template["request"], copies,
                   {"id": f"id || {suffix}", "partner_id": f"partner_id || {suffix}"})
            _clone(connection, "licence", template["licence"], copies,
                   {"id": f"id || {suffix}", "partner_id": f"partner_id || {suffix}",
                    "request_id": f"request_id || {suffix}"})
            _clone(connection, "billing_customer", template["customer"], copies,
                   {"id": f"id || {suffix}", "partner_id": f"partner_id || {suffix}",
                    "provider_customer_id": f"provider_customer_id || {suffix}"})
        # Number the licences and articles, for the events' generator to pick from.
        connection.execute(text("CREATE TABLE bench_licence (n INTEGER PRIMARY KEY, id VARCHAR(40), partner_id VARCHAR(40))"))
        connection.execute(text("INSERT INTO bench_licence SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, partner_id FROM licence"))
        connection.execute(text("CREATE TABLE bench_article (n INTEGER PRIMARY KEY, id VARCHAR(40))"))
        connection.execute(text("INSERT INTO bench_article SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id FROM article"))
    timings["partners and licences (s)"] = time.monotonic() - started
    ensure_partitions(engine, ahead_months=1, now=period_start)  # the job, as it would have run last month

    started = time.monotonic()
    postgres = engine.dialect.name == "postgresql"
    seconds = (period_end - period_start).total_seconds()
    with_, series = _series(engine.dialect.name, events)
    if postgres:
        at = f"(CAST(:start AS timestamptz) + ((g - 1) * {seconds / events}) * interval '1 second')"
        event_id = "'use_' || lpad(CAST(g AS TEXT), 26, '0')"
    else:  # SQLite keeps UTC as "YYYY-MM-DD HH:MM:SS.ffffff"
        at = f"strftime('%Y-%m-%d %H:%M:%f000', :start, '+' || ((g - 1) * {seconds / events}) || ' seconds')"
        event_id = "'use_' || substr('00000000000000000000000000' || g, -26)"
    with engine.begin() as connection:
        # Event g (from 0) goes to licence g mod L, article (g div L) mod 50: a licence's first 50 are its first of each.
        connection.execute(text(
            f"{with_}INSERT INTO usage_event (id, licence_id, partner_id, article_id, article_version, format, "
            f"token_id, billable, at) SELECT {event_id}, l.id, l.partner_id, a.id, 1, 'json', NULL, "
            f"(g - 1) / {partners} < {ARTICLES_PER_LICENCE}, {at} FROM {series} "
            f"JOIN bench_licence l ON l.n = (g - 1) % {partners} "
            f"JOIN bench_article a ON a.n = ((g - 1) / {partners}) % {ARTICLES_PER_LICENCE}"),
            {"start": period_start.replace(tzinfo=None).isoformat(sep=" ") if not postgres else period_start})
    timings["usage events (s)"] = time.monotonic() - started
    started = time.monotonic()
    day, billed = (("(at AT TIME ZONE 'UTC')::date", "count(*) FILTER (WHERE billable)") if postgres
                   else ("substr(at, 1, 10)", "sum(billable)"))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO republication (licence_id, article_id, partner_id, usage_id, at) "
                                "SELECT licence_id, article_id, partner_id, id, at FROM usage_event WHERE billable"))
        connection.execute(text(
            "INSERT INTO usage_daily (day, licence_id, article_id, partner_id, deliveries, republications) "
            f"SELECT {day}, licence_id, article_id, min(partner_id), count(*), {billed} FROM usage_event "
            f"GROUP BY {day}, licence_id, article_id"))
        connection.execute(text("DROP TABLE bench_licence"))
        connection.execute(text("DROP TABLE bench_article"))
        if postgres:
            connection.execute(text("ANALYZE"))
        counts = {name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("partner", "licence", "usage_event", "republication", "usage_daily",
                               "usage_licence_daily", "usage_article_daily")}
    timings["republications and rollups (s)"] = time.monotonic() - started
    engine.dispose()
    return {"counts": counts, "timings": timings, "period": f"{period_start:%Y-%m}", "period_start": period_start,
            "period_end": period_end, "licence": template["licence"]}


def measure(database_url: str, built: dict, *, now: datetime) -> dict:
    from sqlmodel import Session

    from api.core.config import Settings
    from api.core.db import make_engine
    from api.delivery import quotas
    from api.invoicing import periods
    from api.reports import service as reports
    from billing.ledger import LedgerBackend

    settings = Settings(database_url=database_url)
    engine = make_engine(database_url)
    backend = CountingBackend(LedgerBackend())
    started = time.monotonic()
    summary = periods.run_period(engine, built["period"], backend=backend, settings=settings, now=now)  # type: ignore[arg-type]
    invoice_seconds = time.monotonic() - started
    with Session(engine) as session:
        started = time.monotonic()
        report = reports.usage(session, start=built["period_start"].date(), end=built["period_end"].date())
        report_seconds = time.monotonic() - started
        started = time.monotonic()
        used = quotas.used_since(session, built["licence"], built["period_start"])
        quota_seconds = time.monotonic() - started
    engine.dispose()
    return {"invoice_seconds": invoice_seconds, "invoices": summary.invoices_created, "partners": summary.partners,
            "failed": len(summary.failed), "lines": summary.lines, "provider_calls": dict(backend.calls),
            "report_seconds": report_seconds, "report_deliveries": report.total.deliveries,
            "report_republications": report.total.republications, "quota_seed_seconds": quota_seconds,
            "quota_seed": used}


def reuse(database_url: str, *, now: datetime) -> dict:
    """A database an earlier run built (perhaps by an older version): migrated to head (timed: the
    migrations' backfills at this size), its invoices removed, customers made for partners without
    one (as approval would have), so the period run starts over."""
    from sqlalchemy import text

    from api.core.db import make_engine
    from api.core.migrations import upgrade
    from api.core.months import add_months, month_start

    started = time.monotonic()
    upgrade(database_url)
    timings = {"migrations to head (s)": time.monotonic() - started}
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for table in ("invoice_line", "invoice"):
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text(
            "INSERT INTO billing_customer (id, partner_id, provider, provider_customer_id, created_at) "
            "SELECT 'bcu_' || id, id, 'ledger', 'ledger_' || id, CURRENT_TIMESTAMP FROM partner "
            "WHERE id NOT IN (SELECT partner_id FROM billing_customer)"))
        licence = connection.execute(text("SELECT min(id) FROM licence")).scalar_one()
        counts = {name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("partner", "licence", "usage_event", "republication", "usage_daily",
                               "usage_licence_daily", "usage_article_daily")}
    engine.dispose()
    period_start, period_end = add_months(month_start(now), -1), month_start(now)
    return {"counts": counts, "timings": timings, "period": f"{period_start:%Y-%m}", "period_start": period_start,
            "period_end": period_end, "licence": licence}


def run(database_url: str, *, partners: int, events: int, reused: bool = False) -> dict:
    now = datetime.now(UTC)
    built = reuse(database_url, now=now) if reused else build(database_url, partners=partners, events=events, now=now)
    return {**built, **measure(database_url, built, now=now)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=None, help="default: 10M on PostgreSQL, 1M on SQLite")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the database (--database-url) an earlier run built, upgraded to head")
    args = parser.parse_args()
    events = args.events or (10_000_000 if args.db == "postgres" else 1_000_000)
    url = args.database_url or (PG_DEFAULT if args.db == "postgres" else
                                f"sqlite:///{os.path.join(tempfile.mkdtemp(prefix='syndicate-scale-'), 'scale.db')}")
    result = run(url, partners=args.partners, events=events, reused=args.reuse)
    calls = result["provider_calls"]
    print(f"database: {args.db}; {result['counts']}")
    for name, seconds in result["timings"].items():
        print(f"  build: {name}: {seconds:.1f}")
    print(f"period {result['period']} invoice run: {result['invoice_seconds']:.1f} s for {result['partners']:,} partners "
          f"({result['invoices']:,} invoices, {result['lines']:,} lines, {result['failed']} failed), "
          f"{1000 * result['invoice_seconds'] / max(1, result['partners']):.1f} ms a partner")
    print(f"  provider calls: {sum(calls.values()):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(calls.items()))}); "
          f"{sum(calls.values()) / max(1, result['partners']):.2f} provider call(s) a partner")
    print(f"usage report page (the month, top 20 each): {1000 * result['report_seconds']:.0f} ms "
          f"({result['report_deliveries']:,} deliveries, {result['report_republications']:,} republications)")
    print(f"quota seed (one licence, the month): {1000 * result['quota_seed_seconds']:.1f} ms ({result['quota_seed']:,})")


if __name__ == "__main__":
    main()
