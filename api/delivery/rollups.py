"""Daily usage per licence and per article, kept by the database from `usage_daily`.

`usage_daily` has one row per day, licence and article: at 10,000 licences fetching 50 articles it
holds millions of rows a month, and every question asked per partner or per licence (quotas, the
usage report's partners and licences, invoicing's sums per period) or per article (top articles)
would scan them. These two tables answer those questions from ~licences x days and ~articles x
days rows:

- `usage_licence_daily`: deliveries and republications per UTC day and licence (with its partner).
- `usage_article_daily`: deliveries and republications per UTC day and article.

Triggers on `usage_daily` keep them, so every writer (the content path's batch statements, the
ORM's `add_event`, imports, migrations) moves both in the same transaction as the row they count:
they always equal `usage_daily` summed by (day, licence) and (day, article). PostgreSQL uses
statement-level triggers that fold a whole batch into one upsert per rollup, in key order, so two
API workers' writers take the rollup row locks in the same order; SQLite (one writer at a time)
uses row triggers with an UPSERT. Nothing deletes `usage_daily` rows, and a deletion (a test
emptying its tables, a repair) leaves the rollups as they are: they are the compact history. Migration 0024_rollups_attempts creates the same objects and
backfills them from existing rows.
"""

from __future__ import annotations

LICENCE_TABLE = "usage_licence_daily"
ARTICLE_TABLE = "usage_article_daily"


def _sqlite_upsert(table: str, key: str, partner: bool, sign: str, source: str) -> str:
    columns = f"day, {key}{', partner_id' if partner else ''}, deliveries, republications"
    values = (f"{source}.day, {source}.{key}{f', {source}.partner_id' if partner else ''}, "
              f"{sign}{source}.deliveries, {sign}{source}.republications")
    return (f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT (day, {key}) DO UPDATE SET "
            f"deliveries = deliveries + excluded.deliveries, republications = republications + excluded.republications;")


def _sqlite_trigger(name: str, timing: str, body: list[str]) -> str:
    return f"CREATE TRIGGER {name} AFTER {timing} ON usage_daily FOR EACH ROW BEGIN {' '.join(body)} END"


def _both(sign: str, source: str) -> list[str]:
    return [_sqlite_upsert(LICENCE_TABLE, "licence_id", True, sign, source),
            _sqlite_upsert(ARTICLE_TABLE, "article_id", False, sign, source)]


SQLITE_TRIGGERS = (
    _sqlite_trigger("usage_daily_rollups_insert", "INSERT", _both("", "NEW")),
    # An update (the writers' ON CONFLICT DO UPDATE) adds the new counts and takes the old ones off.
    _sqlite_trigger("usage_daily_rollups_update", "UPDATE", _both("", "NEW") + _both("-", "OLD")),
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS usage_daily_rollups_insert", "DROP TRIGGER IF EXISTS usage_daily_rollups_update")


def _pg_upsert(table: str, key: str, partner: bool, changes: str) -> str:
    """One upsert of the statement's changes summed by (day, key), in key order."""
    columns = f"day, {key}{', partner_id' if partner else ''}, deliveries, republications"
    return (f"INSERT INTO {table} ({columns}) "
            f"SELECT day, {key}{', min(partner_id)' if partner else ''}, sum(deliveries), sum(republications) "
            f"FROM ({changes}) AS changes GROUP BY day, {key} ORDER BY day, {key} "
            f"ON CONFLICT (day, {key}) DO UPDATE SET deliveries = {table}.deliveries + excluded.deliveries, "
            f"republications = {table}.republications + excluded.republications;")


def _pg_function(name: str, changes: str) -> str:
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{_pg_upsert(LICENCE_TABLE, 'licence_id', True, changes)} "
            f"{_pg_upsert(ARTICLE_TABLE, 'article_id', False, changes)} "
            "RETURN NULL; END $$")


_ROW = "day, licence_id, article_id, partner_id"
POSTGRES_TRIGGERS = (
    _pg_function("usage_daily_rollups_insert", f"SELECT {_ROW}, deliveries, republications FROM added"),
    _pg_function("usage_daily_rollups_update",
                 f"SELECT {_ROW}, deliveries, republications FROM after_rows UNION ALL "
                 f"SELECT {_ROW}, -deliveries, -republications FROM before_rows"),
    # Transition tables allow one event per trigger: two triggers, each once per statement.
    "CREATE TRIGGER usage_daily_rollups_insert AFTER INSERT ON usage_daily REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_rollups_insert()",
    "CREATE TRIGGER usage_daily_rollups_update AFTER UPDATE ON usage_daily "
    "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_rollups_update()",
)
POSTGRES_DROP = tuple(f"DROP TRIGGER IF EXISTS usage_daily_rollups_{what} ON usage_daily" for what in
                      ("insert", "update")) + tuple(
    f"DROP FUNCTION IF EXISTS usage_daily_rollups_{what}()" for what in ("insert", "update"))

# Filling the rollups from rows already in usage_daily (the migration, or a repair).
BACKFILL = (
    f"INSERT INTO {LICENCE_TABLE} (day, licence_id, partner_id, deliveries, republications) "
    "SELECT day, licence_id, min(partner_id), sum(deliveries), sum(republications) FROM usage_daily "
    "GROUP BY day, licence_id",
    f"INSERT INTO {ARTICLE_TABLE} (day, article_id, deliveries, republications) "
    "SELECT day, article_id, sum(deliveries), sum(republications) FROM usage_daily GROUP BY day, article_id",
)


def triggers(dialect: str) -> tuple[str, ...]:
    return POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS


def drop_triggers(dialect: str) -> tuple[str, ...]:
    return POSTGRES_DROP if dialect == "postgresql" else SQLITE_DROP

