"""Request-body size limit, as pure ASGI middleware (no per-request objects on the way in).

A body is refused with 413 before anything parses it: at once when `Content-Length` says it is too
large, and, for a chunked or under-declared body, as soon as the bytes received pass the limit
(the app's next `receive()` raises, which FastAPI and this middleware turn into the same 413).
GETs served by the content fast path (`SyndicateApp.front`) never reach this middleware.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.errors import PayloadTooLarge
from api.core.problems import PROBLEM_JSON, problem_body, problem_bytes

# Staff catalogue imports carry whole documents (lists of articles, HTML pages): their own, larger limit.
IMPORT_PATHS = ("/v1/staff/articles/import",)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=PayloadTooLarge.status,
                         detail=f"The request body is larger than this endpoint accepts ({limit} bytes at most).")
        self.limit = limit


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_import_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_import_body_bytes = max_import_body_bytes

    def limit_for(self, path: str) -> int:
        return self.max_import_body_bytes if path.startswith(IMPORT_PATHS) else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, send, limit)


def _problem(path: str, limit: int) -> bytes:
    return problem_bytes(problem_body(
        status=PayloadTooLarge.status, type_=PayloadTooLarge.type_uri(), title=PayloadTooLarge.title,
        detail=BodyTooLarge(limit).detail, instance=path, max_bytes=limit,
    ))


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = _problem(scope["path"], limit)
    await send({"type": "http.response.start", "status": PayloadTooLarge.status, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, *, max_body_bytes: int, max_import_body_bytes: int) -> None:
    """Add the middleware, and answer the limit hit inside a handler's body read with the same problem
    (FastAPI's handler catches the exception around its body parse and re-raises it as an HTTP error)."""

    async def too_large(request: Request, exc: Exception) -> Response:
        limit = exc.limit if isinstance(exc, BodyTooLarge) else max_body_bytes
        return Response(_problem(request.url.path, limit), status_code=PayloadTooLarge.status,
                        media_type=PROBLEM_JSON, headers={"connection": "close"})

    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, max_import_body_bytes=max_import_body_bytes)
