"""Per-key and per-address rate limits over the whole JSON API, checked before FastAPI runs anything.

A pure ASGI middleware on the event loop: a refused request never takes one of the API's threads or
database connections, so one partner key (or one address) flooding the API is answered 429 at the
door while everybody else, and `/healthz`, is served. Three fixed windows (see the settings):

* every `/v1` request, per client address (`address_rate_limit`), a ceiling also for made-up keys;
* a request with `X-API-Key`, per key (`api_key_rate_limit`), wherever it comes from;
* a request with no credentials at all, per client address (`anonymous_rate_limit`): the public
  catalogue, the form, anonymous quotes, self-registration.

The client address is the connection's peer, or what `X-Forwarded-For` says when the peer is one of
`trusted_proxies` (uvicorn's ProxyHeadersMiddleware, installed around the app in api.app).
The content path (`/v1/content`) has its own per-token limits; Stripe's webhook is signed and exempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from dataclasses import dataclass

from limits import RateLimitItem, parse
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.config import Settings
from api.core.errors import ApiRateLimited, AtCapacity
from api.core.problems import PROBLEM_JSON, problem_body, problem_bytes
from api.core.ratelimit import async_counter_storage, rate_limit_headers, seconds_until

log = logging.getLogger("syndicate.ratelimit")

LIMITED_PREFIX = "/v1/"
EXEMPT_PREFIXES = ("/v1/content/", "/v1/invoicing/stripe/webhook")
CREDENTIAL_HEADERS = (b"x-api-key", b"authorization")


@dataclass(frozen=True)
class Rule:
    item: RateLimitItem
    scope: str
    setting: str
    who: str  # "this API key", "this address"

    @classmethod
    def parse(cls, notation: str, scope: str, setting: str, who: str) -> Rule | None:
        return cls(parse(notation), scope, setting, who) if notation else None


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    count: int
    reset_at: float

    @property
    def remaining(self) -> int:
        return self.rule.item.amount - self.count

    def headers(self) -> dict[str, str]:
        return rate_limit_headers(limit=self.rule.item.amount, remaining=self.remaining,
                                  reset=seconds_until(self.reset_at), window=self.rule.item.get_expiry())


class ApiRateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.storage = async_counter_storage(settings)
        self.per_address = Rule.parse(settings.address_rate_limit, "api-address", "SYNDICATE_ADDRESS_RATE_LIMIT",
                                      "this address")
        self.per_key = Rule.parse(settings.api_key_rate_limit, "api-key", "SYNDICATE_API_KEY_RATE_LIMIT",
                                  "this API key")
        self.anonymous = Rule.parse(settings.anonymous_rate_limit, "api-anonymous", "SYNDICATE_ANONYMOUS_RATE_LIMIT",
                                    "this address without an API key")

    def _checks(self, scope: Scope) -> list[tuple[Rule, str]]:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        credentials = {name: value for name, value in scope["headers"] if name in CREDENTIAL_HEADERS}
        checks = [(self.per_address, address)]
        if b"x-api-key" in credentials:
            # The key itself never reaches Redis: a digest names its counter.
            checks.append((self.per_key, hashlib.sha256(credentials[b"x-api-key"]).hexdigest()[:32]))
        elif not credentials:
            checks.append((self.anonymous, address))
        return [(rule, who) for rule, who in checks if rule is not None]

    async def _hit(self, rule: Rule, who: str) -> Verdict:
        key = rule.item.key_for(rule.scope, who)
        count = await self.storage.incr(key, rule.item.get_expiry())
        return Verdict(rule, count, await self.storage.get_expiry(key))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(LIMITED_PREFIX) or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        verdicts: list[Verdict] = []
        try:
            for rule, who in self._checks(scope):
                verdict = await self._hit(rule, who)
                verdicts.append(verdict)
                if verdict.remaining < 0:
                    await self._refuse(scope, send, verdict)
                    return
        except (RedisError, OSError) as exc:
            # Counters unreachable (Redis down): serve rather than refuse everyone; the pool's
            # timeout still bounds the damage a flood can do.
            log.warning("rate-limit counters unavailable, request not counted: %s", exc)
            verdicts = []
        tightest = min(verdicts, key=lambda v: v.remaining, default=None)
        if tightest is None:
            await self.app(scope, receive, send)
            return
        extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in tightest.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, scope: Scope, send: Send, verdict: Verdict) -> None:
        retry = seconds_until(verdict.reset_at)
        item = verdict.rule.item
        error = ApiRateLimited(
            f"At most {item.amount} requests per {item.get_expiry()} s come from {verdict.rule.who} "
            f"({verdict.rule.setting}); retry in {retry} s.")
        await send_problem(scope, send, error, retry, verdict.headers())


class CapacityGate:
    """At most `api_threads` requests inside the FastAPI app at once; the others wait here, on the event
    loop, for at most `db_pool_timeout_seconds`, then are answered 503 `at-capacity` with Retry-After.

    Why a gate and not only the pool: a request holds its database connection (and, on SQLite, the
    write lock of BEGIN IMMEDIATE) between its dependencies and its handler, which run in separate
    thread-pool calls. With more requests in flight than threads, the threads can all be taken by
    requests waiting for that connection or lock while its holder waits for a thread. With no more
    requests inside than threads, a thread is always free for the one holding the connection.
    `/healthz` (on the event loop, no database) and the feed (see UNGATED) are never gated.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.size = settings.api_threads
        self.patience = settings.db_pool_timeout_seconds
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:  # one per event loop (tests start several)
            self._gate = (loop, asyncio.Semaphore(self.size))
        return self._gate[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNGATED:
            await self.app(scope, receive, send)
            return
        gate = self._semaphore()
        try:
            await asyncio.wait_for(gate.acquire(), self.patience)
        except TimeoutError:
            retry = max(1, math.ceil(self.patience))
            error = AtCapacity(f"Every API thread was busy for {self.patience:g} s; the request was not run. "
                               f"Retry in {retry} s.")
            await send_problem(scope, send, error, retry, {})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()


# The feed is async and reads through the content engine on the delivery runtime's executor, never an API
# thread or connection, so the deadlock the gate prevents cannot involve it; and a long-polling feed request
# (`wait=`) holding a slot for 30 s would let 40 waiting partners shut the whole API out.
UNGATED = frozenset({"/healthz", "/v1/content/feed"})


async def send_problem(scope: Scope, send: Send, error: ApiRateLimited | AtCapacity, retry: int,
                       headers: dict[str, str]) -> None:
    """A problem+json answer straight from the middleware, with Retry-After (and any RateLimit fields)."""
    body = problem_bytes(problem_body(status=error.status, type_=error.type_uri(), title=error.title,
                                      detail=error.detail, instance=scope.get("path"), retry_after=retry))
    fields = {"content-type": PROBLEM_JSON, "content-length": str(len(body)), "retry-after": str(retry),
              **{name.lower(): value for name, value in headers.items()}}
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields.items()]})
    await send({"type": "http.response.body", "body": body})
