"""The one place where errors become RFC 9457 `application/problem+json` responses."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.core.errors import (
    AtCapacity, BadRequest, Conflict, DatabaseBusy, DatabaseUnreachable, Forbidden, Gone, HttpError, InternalError,
    InvalidData, MethodNotAllowed, NotAcceptable, NotFound, PayloadTooLarge, ServiceUnavailable, SyndicateError,
    TooManyRequests, Unauthenticated, UnsupportedMediaType, ValidationFailed,
)

log = logging.getLogger("syndicate.errors")

PROBLEM_JSON = "application/problem+json"

# Problem types for errors raised by the HTTP layer (Starlette/FastAPI) rather than by a service;
# each is a registered SyndicateError, so `GET /problems/{slug}` documents it.
_HTTP_ERRORS: dict[int, type[SyndicateError]] = {err.status: err for err in (
    BadRequest, Unauthenticated, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, Conflict, Gone,
    PayloadTooLarge, UnsupportedMediaType, TooManyRequests,
)}


class FieldProblem(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `body.territories.0`.")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["No article art_01jd... in the catalogue."])
    instance: str | None = None
    errors: list[FieldProblem] | None = None

    model_config = {"extra": "allow"}


def problem_body(
    *, status: int, type_: str, title: str, detail: str | None, instance: str | None, **extra: Any,
) -> dict[str, Any]:
    """The RFC 9457 document; every problem answer (FastAPI's handlers and the content fast path)
    is built here, so they cannot drift apart."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def error_problem(exc: SyndicateError, instance: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """A domain error's problem document and the response headers it asks for (e.g. Retry-After)."""
    extra = dict(exc.extra)
    headers = extra.pop("headers", None)
    body = problem_body(status=exc.status, type_=exc.type_uri(), title=exc.title, detail=exc.detail,
                        instance=instance, **extra)
    return body, headers if isinstance(headers, dict) else {}


def problem_bytes(body: dict[str, Any]) -> bytes:
    """Encoded exactly as JSONResponse encodes it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def problem_response(
    *, status: int, type_: str, title: str, detail: str | None, instance: str | None,
    headers: dict[str, str] | None = None, **extra: Any,
) -> JSONResponse:
    body = problem_body(status=status, type_=type_, title=title, detail=detail, instance=instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_responses(*errors: type[SyndicateError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry for the problems a route can answer with."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status, {"model": Problem, "description": "", "content": {PROBLEM_JSON: {"examples": {}}}})
        entry["description"] = "; ".join(filter(None, [entry["description"], err.title]))
        entry["content"][PROBLEM_JSON]["examples"][err.slug] = {
            "summary": err.title,
            "value": {"type": err.type_uri(), "title": err.title, "status": err.status},
        }
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method of every route on this path: Starlette's 405 names only the first route's, and
    one path is often several routes (GET and PATCH `/v1/partners/me`)."""
    routes = request.app.router.routes
    methods = {method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)}
    return ", ".join(sorted(methods))


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _malformed_json_detail(error: dict[str, Any]) -> str:
    loc = error.get("loc", ())
    offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = (error.get("ctx") or {}).get("error")
    where = f" at character {offset}" if offset is not None else ""
    return f"The request body is not valid JSON{where}" + (f" ({reason})." if reason else ".")


_BUSY_SQLSTATES = {"55P03", "57014", "40001", "40P01"}  # lock_not_available, query_canceled, serialization, deadlock


def database_fault(exc: OperationalError) -> str | None:
    """'busy' for a lock or timeout the client may retry, 'unreachable' for a lost PostgreSQL
    connection, None for anything else (SQLite reports schema errors as OperationalError too)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return "busy"
    message = str(orig).lower()
    if "database is locked" in message or "database table is locked" in message:
        return "busy"
    sqlstate = getattr(orig, "sqlstate", None)
    if type(orig).__module__.startswith("psycopg") and (sqlstate is None or sqlstate.startswith("08")):
        return "unreachable"
    return None


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(SyndicateError)
    async def _domain_error(request: Request, exc: SyndicateError) -> JSONResponse:
        body, headers = error_problem(exc, request.url.path)
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            # FastAPI reports a body that is not JSON at all as field `body.<offset>`: say what it is.
            return problem_response(
                status=422, type_=ValidationFailed.type_uri(), title=ValidationFailed.title,
                detail=_malformed_json_detail(malformed), instance=request.url.path,
                errors=[{"field": "body", "message": _malformed_json_detail(malformed), "type": "json_invalid"}],
            )
        errors = [
            {"field": _field_name(e.get("loc", ())), "message": e.get("msg", "invalid"), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(err["field"] for err in errors))
        return problem_response(
            status=422, type_=ValidationFailed.type_uri(), title=ValidationFailed.title,
            detail=f"Invalid or missing: {names}." if names else "The request did not validate.",
            instance=request.url.path, errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI turns a JSON body that is not UTF-8 into a bare 400 "error parsing the body";
            # it is malformed JSON like any other, so the same 422, saying where.
            cause = exc.__cause__
            detail = (f"The request body is not UTF-8 "
                      f"(byte 0x{cause.object[cause.start]:02x} at position {cause.start}).")
            return problem_response(
                status=422, type_=ValidationFailed.type_uri(), title=ValidationFailed.title, detail=detail,
                instance=request.url.path, errors=[{"field": "body", "message": detail, "type": "json_invalid"}],
            )
        err = _HTTP_ERRORS.get(exc.status_code, HttpError)
        headers = getattr(exc, "headers", None)
        if exc.status_code == MethodNotAllowed.status:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem_response(
            status=exc.status_code, type_=err.type_uri(), title=str(exc.detail) if exc.detail else err.title,
            detail=str(exc.detail) if exc.detail else None, instance=request.url.path, headers=headers,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value from the request (PostgreSQL will not store or compare text
        # holding NUL, for one): the client's input, not our failure, so a 422 rather than a 500.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path,
                    str(exc.orig or exc).splitlines()[0])
        return problem_response(
            status=InvalidData.status, type_=InvalidData.type_uri(), title=InvalidData.title,
            detail="A value in the request cannot be stored or compared (for instance text holding a NUL "
                   "character); correct it and try again.", instance=request.url.path,
        )

    @app.exception_handler(OperationalError)
    async def _operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        # A lock held past the database's wait, or a connection lost mid-request: the client may
        # retry, so a 503 naming which, rather than a 500. Anything else stays an internal error.
        kind = database_fault(exc)
        if kind is None:
            return await _unexpected(request, exc)
        error: type[ServiceUnavailable] = DatabaseBusy if kind == "busy" else DatabaseUnreachable
        log.warning("database %s on %s %s: %s", kind, request.method, request.url.path,
                    str(exc.orig or exc).splitlines()[0] if str(exc.orig or exc) else type(exc.orig).__name__)
        detail = ("Another transaction held what this request needed to write; nothing was stored. Retry in 2 s."
                  if kind == "busy" else "The connection to the database was lost; nothing was stored. Retry in 2 s.")
        return problem_response(status=error.status, type_=error.type_uri(), title=error.title, detail=detail,
                                instance=request.url.path, headers={"Retry-After": "2"}, retry_after=2)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every connection of the API's pool stayed busy past `db_pool_timeout_seconds`: say so at once
        # (the client may retry) instead of queueing for half a minute and failing with a 500.
        retry = max(1, math.ceil(request.app.state.settings.db_pool_timeout_seconds))
        log.warning("no database connection within the pool timeout on %s %s", request.method, request.url.path)
        return problem_response(
            status=AtCapacity.status, type_=AtCapacity.type_uri(), title=AtCapacity.title,
            detail=f"Every database connection is in use; the request was not run. Retry in {retry} s.",
            instance=request.url.path, headers={"Retry-After": str(retry)}, retry_after=retry,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            status=InternalError.status, type_=InternalError.type_uri(), title=InternalError.title,
            detail="An unexpected error occurred; it has been logged.", instance=request.url.path,
        )
