"""The committed OpenAPI document is rendered from the app, with settings fixed for stability."""

from __future__ import annotations

import json

from api.core.config import Settings


def render() -> str:
    from api.app import create_app

    settings = Settings(database_url="sqlite://", public_base_url="https://syndicate.example.com")
    app = create_app(settings, run_worker=False)
    return json.dumps(app.openapi(), indent=2, sort_keys=False) + "\n"
