"""One typed settings object, read from SYNDICATE_* environment variables and an optional .env."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, field_serializer, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


DEVELOPMENT_SECRET = "change-me-in-production-please-32b"

_USERINFO_PASSWORD = re.compile(r"(?<=://)([^/@:?#]*):[^/@?#]*@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|passwd|pwd)=)[^&#]*")


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***`: `postgresql://user:***@host/db`."""
    masked = _USERINFO_PASSWORD.sub(lambda m: f"{m[1]}:***@", str.__str__(url))
    return _QUERY_PASSWORD.sub(lambda m: f"{m[1]}***", masked)


class SecretUrl(str):
    """A URL that is an ordinary string to the code using it (engines, Redis clients) but shows its
    password masked wherever it is displayed: repr, the settings' repr and str, JSON dumps."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url(self))


# Argon2id's cost in production: 3 passes over 64 MiB in 4 lanes (RFC 9106 section 4, second option).
PRODUCTION_PASSWORD_HASHING = {"time_cost": 3, "memory_kib": 64 * 1024, "parallelism": 4}

# Settings that once existed and were replaced: a deployment still setting one would otherwise lose
# it silently (unknown variables are ignored), so start-up refuses and names what replaced it.
RETIRED_SETTINGS = {
    "SYNDICATE_STAFF_TOKEN_MINUTES": "SYNDICATE_STAFF_SESSION_IDLE_MINUTES (idle timeout) and "
                                     "SYNDICATE_STAFF_SESSION_ABSOLUTE_HOURS (absolute lifetime)",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNDICATE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./syndicate.db"
    public_base_url: str = "http://127.0.0.1:8000"
    # How the publisher's own article URLs look, with `{slug}` for the headline's slug
    # ("https://www.middleeasteye.net/news/{slug}"): imported pages that state no canonical URL get
    # one from it. Unset, such pages need an explicit canonical URL.
    canonical_url_template: str | None = None
    publisher_name: str = "Middle East Eye"
    copyright_holder: str = "Middle East Eye"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # --- staff sessions (console and staff API): a session ends after this long without a request,
    # and in any case this long after its login; admin actions want the password typed this recently.
    staff_session_idle_minutes: int = Field(default=30, ge=1)
    staff_session_absolute_hours: int = Field(default=12, ge=1)
    staff_reauthenticate_minutes: int = Field(default=5, ge=1)
    jwt_issuer: str = "syndicate"
    jwt_audience: str = "syndicate-content"
    licence_token_minutes: int = 60 * 24
    # Per licence token, in `limits` notation ("600/minute"); counters live in Redis when redis_url is set.
    token_rate_limit: str = "600/minute"
    # Public self-registrations per client IP ("" turns the limit off); shared through Redis too.
    registration_rate_limit: str = "10/hour"
    # Staff login attempts per client IP ("" turns the limit off); shared through Redis too.
    login_rate_limit: str = "20/minute"
    # Failed staff logins (and re-authentications) per e-mail address, from wherever they come.
    login_account_rate_limit: str = "5/15minutes"
    # Argon2id cost of staff password hashes (api.core.passwords): RFC 9106's second recommended
    # option by default, which production may raise but not lower. Tests set the cheapest allowed.
    password_hash_time_cost: int = Field(default=PRODUCTION_PASSWORD_HASHING["time_cost"], ge=1)
    password_hash_memory_kib: int = Field(default=PRODUCTION_PASSWORD_HASHING["memory_kib"], ge=8)
    password_hash_parallelism: int = Field(default=PRODUCTION_PASSWORD_HASHING["parallelism"], ge=1)

    billing_backend: Literal["ledger", "stripe"] = "ledger"
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    # How long one call to Stripe may take (connect and read) before the SDK retries it, and then
    # the outbox later; the SDK's own default is 80 s.
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    invoice_days_until_due: int = 30
    payment_grace_days: int = 7
    # How a one-off fee is collected: an invoice with payment terms, an automatic card charge,
    # or a Stripe Checkout link (the ledger backend always issues an invoice).
    one_off_payment: Literal["send_invoice", "charge_automatically", "checkout"] = "send_invoice"

    # Partner webhook URLs may name loopback/private/link-local addresses (development and tests only).
    webhook_allow_private_networks: bool = False
    # --- outbound webhooks and outbox delivery (see api/outbox/dispatch.py, api/delivery/webhook_send.py)
    # Messages one worker delivers at once, and at most this many per lane (one partner webhook endpoint).
    outbox_concurrency: int = Field(default=16, ge=1, le=256)
    outbox_concurrency_per_lane: int = Field(default=2, ge=1)
    # A claimed message's lease, renewed while it is sent: a crashed worker's message is retried this soon.
    outbox_lease_seconds: float = Field(default=10.0, ge=1.0)
    # One webhook attempt (connect, send, read the answer) ends after this long, however the receiver trickles.
    webhook_attempt_timeout_seconds: float = Field(default=15.0, gt=0)
    # The longest `Retry-After` (429/503) a webhook endpoint is granted before the next attempt.
    webhook_retry_after_max_seconds: int = Field(default=6 * 3600, ge=0)
    # After a partner rotates an endpoint's secret, deliveries carry both signatures this long.
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0)
    # A "still live" case (a copy seen after its kill) closes itself once its page is unseen this long.
    still_live_quiet_days: float = Field(default=7.0, gt=0)
    # --- the usage log and outbox over time (api/invoicing/usage_retention.py, api/outbox/retention.py)
    # Raw usage events are kept this long (never less than two months: an open period's events stay);
    # the daily rollups and republications that quotas, reports and invoicing read are kept for good.
    usage_event_retention_days: int = Field(default=400, ge=62)
    # Delivered (done) outbox messages are deleted this long after delivery; dead ones stay for operators.
    outbox_done_retention_days: int = Field(default=30, ge=1)
    # PostgreSQL: the usage log's monthly partitions are created this many months ahead.
    usage_partitions_ahead_months: int = Field(default=3, ge=1, le=24)

    # One JSON line per request on stderr, written in batches off the request (api/core/access_log.py);
    # false: only server errors (5xx), which are always logged. `syndicate serve` turns uvicorn's off.
    access_log: bool = True

    # --- content delivery caches, per API process (entries; the least recently used goes first).
    # Sized for 10k+ articles: an article view is its body (~10 kB), a template one rendition of it
    # without the licence (~10 kB); a licence view is ~1 kB; a rendition one licence's bytes.
    delivery_token_cache_size: int = Field(default=50_000, ge=1)
    delivery_licence_cache_size: int = Field(default=50_000, ge=1)
    delivery_article_cache_size: int = Field(default=12_000, ge=1)
    delivery_template_cache_size: int = Field(default=16_000, ge=1)
    delivery_rendition_cache_size: int = Field(default=1_000, ge=1)
    # At start, in the background: every active licence (up to its cache's size) and this many of
    # the most recently updated articles are read in a few queries, instead of one miss each.
    delivery_preload: bool = True
    delivery_preload_articles: int = Field(default=4_000, ge=0)

    redis_url: str | None = None
    run_worker_in_process: bool = True
    worker_poll_seconds: float = 1.0

    email_sender: Literal["log", "smtp"] = "log"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    email_from: str = "licensing@syndicate.local"
    staff_notification_email: str = "licensing-desk@syndicate.local"

    default_currency: str = Field(default="GBP", min_length=3, max_length=3)

    # --- JSON API capacity and rate limits ----------------------------------------------------
    # Fixed windows in `limits` notation ("" turns one off), counted in Redis when redis_url is set.
    # Every /v1 request (the content path has its own per-token limit) per client address:
    address_rate_limit: str = "1200/minute"
    # Requests carrying an X-API-Key, per key (wherever they come from):
    api_key_rate_limit: str = "600/minute"
    # Requests with no credentials at all (catalogue, form, anonymous quotes, registrations), per address:
    anonymous_rate_limit: str = "120/minute"
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips:
    # comma-separated addresses or networks, "*" for any). Anyone else's client address is the peer's.
    trusted_proxies: str = "127.0.0.1"
    # Threads that run the JSON API's synchronous handlers (anyio's pool, 40 by default); the API's
    # database pool holds exactly as many connections, so a thread never waits for a connection that
    # another thread is not using.
    api_threads: int = Field(default=40, ge=1, le=1000)
    # How long a request waits for a database connection before it is answered 503 with Retry-After.
    db_pool_timeout_seconds: float = Field(default=2.0, gt=0)
    # How long an API request waits for a lock another transaction holds (SQLite's write lock,
    # PostgreSQL's row and table locks) before it is answered 503 `database-busy` with Retry-After.
    # PostgreSQL's own default is to wait for ever. Jobs and the worker wait 30 s.
    db_lock_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # Production refuses an http:// public URL (cookies could not be Secure) unless this says the
    # service is reachable only on a private network.
    allow_insecure_public_url: bool = False

    # Bad input at the edges: request bodies larger than these are refused with 413 before parsing
    # (the staff catalogue import, which carries whole documents, has its own larger limit).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_import_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    # --- republish page and partner portal ---
    # Origins allowed to show the republish page in a frame ("https://www.middleeasteye.net ..."), space-separated;
    # empty: only this service itself.
    republish_frame_ancestors: str = ""
    # How long an e-mailed portal sign-in link works, and how long a portal session lasts.
    portal_sign_in_minutes: int = Field(default=30, ge=1)
    portal_session_hours: int = Field(default=12, ge=1)
    # Shown with each open invoice on the ledger backend (bank details, whom to write to); Stripe invoices link to
    # Stripe's own payment page instead.
    portal_payment_instructions: str = ""

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants an explicit driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return SecretUrl("postgresql+psycopg://" + value[len(prefix):])
        return SecretUrl(value)

    @field_validator("redis_url")
    @classmethod
    def _secret_redis_url(cls, value: str | None) -> str | None:
        return SecretUrl(value) if value else value

    @field_serializer("database_url", "redis_url", when_used="json")
    def _masked_in_json(self, value: Any) -> Any:
        return mask_url(value) if isinstance(value, str) else value

    @field_validator("login_rate_limit", "login_account_rate_limit", "address_rate_limit", "api_key_rate_limit", "anonymous_rate_limit")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        if value:
            from limits import parse

            try:
                parse(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate limit in `limits` notation, such as '20/minute'") from exc
        return value

    @field_validator("canonical_url_template")
    @classmethod
    def _template_has_slug(cls, value: str | None) -> str | None:
        if value and (not re.match(r"^https?://[^\s/]+", value) or "{slug}" not in value):
            raise ValueError("must be an http(s) URL containing {slug}, e.g. https://www.example.com/news/{slug}")
        return value or None

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("republish_frame_ancestors")
    @classmethod
    def _origins(cls, value: str) -> str:
        origins = value.split()
        for origin in origins:
            if not re.match(r"^https?://[^\s/]+$", origin):
                raise ValueError(f"{origin!r} is not an origin such as https://www.example.com (no path)")
        return " ".join(origins)

    @field_validator("default_currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _no_retired_settings(self) -> "Settings":
        for name, replacement in RETIRED_SETTINGS.items():
            if name in os.environ:
                raise ValueError(f"{name} is no longer read: it was replaced by {replacement}")
        return self

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> "Settings":
        if self.environment == "production":
            secret = self.secret_key.get_secret_value()
            if secret == DEVELOPMENT_SECRET or len(secret) < 32:
                raise ValueError("SYNDICATE_SECRET_KEY must be set to a random value of at least 32 characters in production")
            if self.public_base_url.startswith("http://") and not self.allow_insecure_public_url:
                raise ValueError("SYNDICATE_PUBLIC_BASE_URL must be an https:// URL in production (session cookies are "
                                 "Secure only then); set SYNDICATE_ALLOW_INSECURE_PUBLIC_URL=true only if the service "
                                 "is reachable on a private network alone")
            weaker = [name for name, floor in PRODUCTION_PASSWORD_HASHING.items()
                      if getattr(self, f"password_hash_{name}") < floor]
            if weaker:
                raise ValueError(f"SYNDICATE_PASSWORD_HASH_{weaker[0].upper()} may not be lowered in production "
                                 f"(at least {PRODUCTION_PASSWORD_HASHING[weaker[0]]})")
            if self.billing_backend == "stripe" and (self.stripe_api_key is None or self.stripe_webhook_secret is None):
                raise ValueError("the stripe billing backend needs SYNDICATE_STRIPE_API_KEY and SYNDICATE_STRIPE_WEBHOOK_SECRET")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


# The settings of work done outside a request (outbox handlers, periodic jobs), which gets only a
# session or an engine. A running app's are in force from its start to its shutdown (an app built
# but not started provides them when none are yet); the worker command configures its own at start;
# anything else (a bare script) reads the environment.
_worker_settings: Settings | None = None


def configure_worker(settings: Settings | None) -> Settings | None:
    """Use `settings` for work outside a request (None: the environment's). Returns the settings
    configured before, for whoever puts them back (tests)."""
    global _worker_settings
    previous, _worker_settings = _worker_settings, settings
    return previous


def default_worker(settings: Settings) -> None:
    """`configure_worker(settings)`, unless settings are configured already."""
    if _worker_settings is None:
        configure_worker(settings)


def worker_settings() -> Settings:
    return _worker_settings or get_settings()
