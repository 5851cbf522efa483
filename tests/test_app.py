"""The app's wiring is listed in code (api/app.py, api/jobs.py): these keep the lists complete."""

from __future__ import annotations

import importlib
import pathlib

import api
from api import app as app_module

API_DIR = pathlib.Path(api.__file__).parent


def test_every_domain_router_and_install_is_listed() -> None:
    for routes_file in sorted(API_DIR.glob("*/routes.py")):
        module = importlib.import_module(f"api.{routes_file.parent.name}.routes")
        assert module.router in app_module.DOMAIN_ROUTERS, f"{module.__name__}.router is not in DOMAIN_ROUTERS"
        install = getattr(module, "install", None)
        assert install is None or install in app_module.DOMAIN_INSTALLS, f"{module.__name__}.install is not listed"


def test_every_jobs_module_is_imported_by_api_jobs() -> None:
    jobs_source = (API_DIR / "jobs.py").read_text()
    for jobs_file in sorted(API_DIR.glob("*/jobs.py")):
        assert f"from api.{jobs_file.parent.name} import jobs" in jobs_source, f"api/{jobs_file.parent.name}/jobs.py"


def test_routes_are_built_at_start_not_by_the_first_requests(engine, database_url, monkeypatch) -> None:
    """FastAPI builds a router's per-route state on the first request that walks it (seconds of CPU
    on the event loop); the app pays that before it listens, so no request after start builds any."""
    from fastapi import routing
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import make_settings

    built = []
    original = routing._EffectiveRouteContext.from_api_route

    def counting(*args, **kwargs):
        built.append(kwargs.get("original_route"))
        return original(*args, **kwargs)

    monkeypatch.setattr(routing._EffectiveRouteContext, "from_api_route", staticmethod(counting))
    with TestClient(create_app(make_settings(database_url), run_worker=False)) as client:
        assert built, "the start built the routes"
        at_start = len(built)
        for path in ("/v1/content/feed", "/v1/articles", "/console/login", "/no-such-page"):
            client.get(path)
        assert len(built) == at_start


class _PingFront:
    """A front that answers GET /ping itself, as the content fast path answers its own paths."""

    @staticmethod
    def handles(scope) -> bool:
        return scope["type"] == "http" and scope["path"] == "/ping"

    async def serve(self, scope, send) -> tuple[int, bytes]:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"front-1")]})
        await send({"type": "http.response.body", "body": b"pong"})
        return 200, b"front-1"


def test_the_front_and_fastapi_answer_with_and_without_the_access_log() -> None:
    """One dispatch: the front answers its paths and FastAPI the rest, before the access log runs
    (no lifespan) and after; with it, each request is logged once, from whichever answered."""
    import io
    import json

    from fastapi.testclient import TestClient

    from api.app import SyndicateApp
    from api.core.access_log import AccessLog

    app = SyndicateApp()
    app.front = _PingFront()  # type: ignore[assignment]

    @app.get("/routed")
    def routed() -> dict:
        return {"routed": True}

    client = TestClient(app)
    assert client.get("/ping").content == b"pong" and client.get("/routed").json() == {"routed": True}
    buffer = io.StringIO()
    app.access_log = AccessLog(stream=buffer)
    assert client.get("/ping").content == b"pong" and client.get("/routed").json() == {"routed": True}
    assert client.get("/nowhere").status_code == 404
    app.access_log.flush()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(line["path"], line["status"]) for line in lines] == [("/ping", 200), ("/routed", 200), ("/nowhere", 404)]
    assert lines[0]["request_id"] == "front-1"
