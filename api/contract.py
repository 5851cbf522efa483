"""The committed API contract (`openapi/openapi.json`): the OpenAPI document of an app built with
fixed settings, so it does not depend on the environment it is rendered in.

Kept out of `api.openapi_doc`, which the app factory imports to shape its document: rendering
needs the app, and the app must not need this module (the layers point one way).
"""

from __future__ import annotations

import json

from api.app import create_app
from api.core.config import Settings


def render() -> str:
    settings = Settings(database_url="sqlite://", public_base_url="https://syndicate.example.com")
    app = create_app(settings, run_worker=False)
    return json.dumps(app.openapi(), indent=2, sort_keys=False) + "\n"
