"""Builds the ASGI application: one FastAPI app with every domain's router."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import health, openapi_doc
from api.core import body_limit, passwords
from api.core.access_log import AccessLog
from api.core.api_limits import ApiRateLimitMiddleware, CapacityGate
from api.core.config import Settings, configure_worker, default_worker, get_settings
from api.core.db import make_engine
from api.core.middleware import RequestIdMiddleware
from api.core.operation_ids import operation_id
from api.core.migrations import require_current
from api.core.problems import install_problem_handlers
from api.core.startup import AfterListening
from api.audit import routes as audit_routes
from api.catalogue import routes as catalogue_routes
from api.console import routes as console_routes
from api.delivery import routes as delivery_routes
from api.invoicing import routes as invoicing_routes
from api.licensing import routes as licensing_routes
from api.outbox import routes as outbox_routes
from api.partners import routes as partners_routes
from api.portal import routes as portal_routes
from api.reports import routes as reports_routes
from api.staff import routes as staff_routes
from api.tracking import routes as tracking_routes

log = logging.getLogger("syndicate")

# Every domain's router, in the order they are mounted (and listed in the contract). A domain with
# extra wiring (startup hooks, the content fast path, page error handlers) also has an `install`.
DOMAIN_ROUTERS = (staff_routes.router, catalogue_routes.router, partners_routes.router, licensing_routes.router,
                  audit_routes.router, invoicing_routes.router, delivery_routes.router, reports_routes.router,
                  outbox_routes.router, tracking_routes.router, console_routes.router, portal_routes.router)
DOMAIN_INSTALLS = (partners_routes.install, licensing_routes.install, delivery_routes.install, console_routes.install,
                   portal_routes.install)

DESCRIPTION = """
Syndicate is a publisher's licensing desk as an API: partner outlets browse the catalogue, get
instant quotes and request licences; staff decide; fees are billed; licensed articles are served
with attribution to token holders.

* Partners authenticate with an API key in `X-API-Key`.
* Staff authenticate with `Authorization: Bearer <token>` from `POST /v1/staff/login`.
* Licensed content is fetched with a licence token (JWT) as `Authorization: Bearer`.
* Errors are RFC 9457 `application/problem+json`; money is integer minor units with an ISO 4217
  currency; times are UTC ISO 8601; lists use cursor pagination.
"""

TAGS = [
    {"name": "catalogue", "description": "Articles available for licensing, and their import."},
    {"name": "partners", "description": "Partner organisations, contacts and API keys."},
    {"name": "licensing", "description": "The request form, quotes, licence requests and decisions."},
    {"name": "licences", "description": "Licences granted to partners."},
    {"name": "invoicing", "description": "Invoices, payments and the Stripe webhook."},
    {"name": "content", "description": "Licensed article delivery (token-protected)."},
    {"name": "staff", "description": "Staff accounts and logins."},
    {"name": "audit", "description": "The append-only audit trail."},
    {"name": "reports", "description": "Staff reports: revenue and usage."},
    {"name": "health", "description": "Liveness and readiness."},
]


class SyndicateApp(FastAPI):
    """FastAPI with an optional `front` handler that answers its own requests before FastAPI's
    stack runs. The content hot path uses it: FastAPI's own `__call__` (middleware, routing,
    dependency resolution) costs more than a whole cached content request (README, "Benchmark")."""

    front = None  # an object with `handles(scope) -> bool` and `async serve(scope, send) -> (status, request id)`
    access_log: AccessLog | None = None
    after_listening_pending = False  # the first request proves the server listens (api.core.startup)

    async def __call__(self, scope, receive, send) -> None:
        # One dispatch for every scope: the front first, then FastAPI; HTTP requests are logged
        # once the access log runs (from the lifespan on; lifespan and websocket scopes never are).
        access_log = self.access_log if scope["type"] == "http" else None
        started = time.perf_counter()
        if self.after_listening_pending and access_log is not None:
            self.after_listening_pending = False
            self.state.after_listening.trigger()
        front = self.front
        if front is not None and front.handles(scope):
            status, request_id = await front.serve(scope, send)
            if access_log is not None:
                access_log.record(scope, status, started, request_id)
            return
        if access_log is None:
            await super().__call__(scope, receive, send)
            return
        answered: list = [500, None]  # what a request that fails before answering is logged as

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
                answered[1] = next((v for k, v in message.get("headers", ()) if k == b"x-request-id"), None)
            await send(message)

        try:
            await super().__call__(scope, receive, sending)
        finally:
            access_log.record(scope, answered[0], started, answered[1])


async def build_route_state(app: FastAPI) -> None:
    """FastAPI builds each included router's per-route state (dependency graphs, pydantic
    validators) on the first request that walks it: ~0.5-1 s of CPU holding the event loop, paid
    by whoever comes first after a start. One request for a path that matches nothing walks every
    router, so it is paid here, before the server listens (and before gc.freeze, which keeps it
    out of the collector's passes)."""
    scope = {"type": "http", "method": "GET", "path": "/.syndicate-start", "raw_path": b"/.syndicate-start",
             "query_string": b"", "headers": [], "root_path": "", "scheme": "http", "http_version": "1.1",
             "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0)}  # no "app": a plain 404, not an exception

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message) -> None:
        return None

    await app.router(scope, receive, send)


def check_migrated(settings: Settings, engine) -> None:
    require_current(engine, settings.database_url)


def api_engine(settings: Settings):
    """The JSON API's engine: one connection per API thread (see `api_threads`), and a request that
    cannot have one within `db_pool_timeout_seconds`, or waits on a lock past `db_lock_timeout_seconds`,
    is answered 503 (api.core.problems) rather than
    queueing. The content path and the in-process worker have engines of their own, so a flood of API
    requests never makes them wait."""
    return make_engine(settings.database_url, pool_size=settings.api_threads, max_overflow=0,
                       pool_timeout=settings.db_pool_timeout_seconds, lock_timeout=settings.db_lock_timeout_seconds)


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    passwords.configure(settings)
    default_worker(settings)  # outbox handlers and jobs run by hand (tests, scripts) before the app starts
    engine = api_engine(settings)
    worker_wanted = settings.run_worker_in_process if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: SyndicateApp) -> AsyncIterator[None]:
        check_migrated(settings, engine)
        worker_settings_before = configure_worker(settings)  # its outbox handlers and jobs work with its settings
        # Starlette and FastAPI run synchronous handlers and dependencies in anyio's default thread
        # pool: as many threads as the API engine has connections.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        worker: Any = None
        worker_engine = None

        async def start_worker() -> None:
            nonlocal worker, worker_engine
            from api.worker import Worker

            # Its own pool, off the API's: each message in flight (settings.outbox_concurrency) may
            # hold a connection for its prepare and record steps, plus the drain's claims.
            worker_engine = make_engine(settings.database_url, pool_size=2, max_overflow=settings.outbox_concurrency)
            worker = Worker(worker_engine, settings.worker_poll_seconds, settings)
            worker.start_thread()

        async def prepare_passwords() -> None:
            await anyio.to_thread.run_sync(passwords.prepare)

        for hook in app.state.startup_hooks:
            await hook(app)
        app.access_log = AccessLog(everything=settings.access_log)
        app.access_log.start()
        await build_route_state(app)
        # Everything built so far (routes, models, metadata, SDK modules) lives as long as the process:
        # keep it out of the cyclic collector's full passes, which otherwise stall every request.
        gc.collect()
        gc.freeze()
        # What is not needed to answer correctly starts once the server listens (api.core.startup).
        after_listening = [*(start_worker,) * worker_wanted, *app.state.after_listening_hooks, prepare_passwords]
        app.state.after_listening.arm(after_listening)
        app.after_listening_pending = True
        try:
            yield
        finally:
            app.after_listening_pending = False
            await app.state.after_listening.disarm()
            if app.access_log is not None:
                app.access_log.stop()
            for hook in app.state.shutdown_hooks:
                await hook(app)
            if worker:
                worker.stop()
            if worker_engine is not None:
                worker_engine.dispose()
            engine.dispose()
            configure_worker(worker_settings_before)

    app = SyndicateApp(
        title="Syndicate", version="0.1.0", description=DESCRIPTION, openapi_tags=TAGS, lifespan=lifespan,
        servers=[{"url": settings.public_base_url}], generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.after_listening_hooks = []  # async, no argument: run once the server listens
    app.state.after_listening = AfterListening()
    install_problem_handlers(app)

    app.include_router(health.router)
    for router in DOMAIN_ROUTERS:
        app.include_router(router)
    for install in DOMAIN_INSTALLS:
        install(app)
    # The last added runs first: rate limits, then the body cap, then the capacity gate, so a refused
    # request costs neither a read of its body nor a place inside the app.
    app.add_middleware(CapacityGate, settings=settings)
    body_limit.install(app, max_body_bytes=settings.max_body_bytes, max_import_body_bytes=settings.max_import_body_bytes)
    app.add_middleware(ApiRateLimitMiddleware, settings=settings)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: the client address every limit counts by is the peer's, or X-Forwarded-For's when
    # the peer is a trusted proxy (`syndicate serve` leaves uvicorn's own proxy handling off).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    openapi_doc.install(app)
    return app
