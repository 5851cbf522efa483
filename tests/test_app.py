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
