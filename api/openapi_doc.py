"""The OpenAPI document: rendered from the app, with the models' examples kept exactly as written.

FastAPI encodes the whole document with `exclude_none=True`, which also strips every `null` from
the examples, leaving examples that no longer match their own schemas (a required nullable field
disappears). `install` re-attaches each model's examples, as written, to its component schema.

It also declares the problems every operation of a kind can answer, whatever its route says (see
`declare_generic_problems`), and gives every error response the one media type the API answers
errors in: `application/problem+json` with the `Problem` schema.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.core.errors import (
    BadRequest, PayloadTooLarge, ServiceUnavailable, SyndicateError, TooManyRequests, Unauthenticated, ValidationFailed,
)
from api.core.problems import PROBLEM_JSON, error_responses


def _our_models() -> dict[str, type[BaseModel]]:
    """Every pydantic model defined in `api`, by the names FastAPI may give its component."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
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


_BODY_METHODS = ("post", "put", "patch")
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def _generic_problems(path: str, method: str, operation: dict[str, Any]) -> list[type[SyndicateError]]:
    """What the HTTP edge can answer on any operation of this kind, beside the route's own problems."""
    found: list[type[SyndicateError]] = []
    if operation.get("security"):
        found.append(Unauthenticated)
    if method in _BODY_METHODS and "requestBody" in operation:
        found += [BadRequest, PayloadTooLarge]  # an unreadable body; a body over SYNDICATE_MAX_BODY_BYTES
    if path.startswith("/v1/"):
        found += [TooManyRequests, ServiceUnavailable]  # rate limits; no database connection free in time
    return found


def _as_problem_content(response: dict[str, Any]) -> None:
    """Errors are answered as application/problem+json only, described by the Problem schema."""
    content = response.get("content") or {}
    examples = content.get(PROBLEM_JSON, {}).get("examples")
    media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
    if examples:
        media["examples"] = examples
    response["content"] = {PROBLEM_JSON: media}


def declare_generic_problems(document: dict[str, Any]) -> dict[str, Any]:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, entry in error_responses(*_generic_problems(path, method, operation)).items():
                declared = responses.setdefault(str(status), {"description": entry["description"], "content": {}})
                examples = declared.setdefault("content", {}).setdefault(PROBLEM_JSON, {}).setdefault("examples", {})
                for slug, example in entry["content"][PROBLEM_JSON]["examples"].items():
                    examples.setdefault(slug, example)
                if status == TooManyRequests.status:
                    declared.setdefault("headers", {}).update(_RETRY_AFTER)
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    if response.get("description") == "Validation Error":
                        response["description"] = ValidationFailed.title
                    _as_problem_content(response)
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" in schemas and '"#/components/schemas/HTTPValidationError"' not in json.dumps(document["paths"]):
        schemas.pop("HTTPValidationError")
        schemas.pop("ValidationError", None)
    return document


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_generic_problems(restore_examples(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the schema

