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
