"""The OpenAPI document: rendered from the app, with the models' examples kept exactly as written.

FastAPI encodes the whole document with `exclude_none=True`, which also strips every `null` from
the examples, leaving examples that no longer match their own schemas (a required nullable field
disappears). `install` re-attaches each model's examples, as written, to its component schema.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.core.config import Settings


def _our_models() -> dict[str, type[BaseModel]]:
    """Every pydantic model defined in `api`, by the names FastAPI may give its component."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type] = [BaseModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("api."):
                found.setdefault(sub.__name__, sub)
                found.setdefault(f"{sub.__module__}__{sub.__name__}".replace(".", "__"), sub)
    return found


def _examples_of(model: type[BaseModel]) -> list[Any] | None:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return json.loads(json.dumps(examples, default=str)) if examples else None


def restore_examples(document: dict[str, Any]) -> dict[str, Any]:
    models = _our_models()
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        model = models.get(name.removesuffix("-Input").removesuffix("-Output"))
        examples = _examples_of(model) if model else None
        if examples:
            schema["examples"] = examples
    return document


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = restore_examples(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def render() -> str:
    from api.app import create_app

    settings = Settings(database_url="sqlite://", public_base_url="https://syndicate.example.com")
    app = create_app(settings, run_worker=False)
    return json.dumps(app.openapi(), indent=2, sort_keys=False) + "\n"
