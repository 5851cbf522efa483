"""The hot path: `GET /v1/content/articles/{id}` served by a small ASGI handler in front of FastAPI.

FastAPI's routing, dependency injection and response handling cost most of the budget of a request
that is otherwise a few dictionary lookups (the README's "Benchmark" section measures both). The
same operation is declared as a FastAPI route for the OpenAPI contract and shares
`DeliveryRuntime.serve_article` with it;
every other path, including the rest of /v1/content, falls through to the app.
"""

from __future__ import annotations

import logging
import os
import re
from itertools import count
from urllib.parse import parse_qsl

from starlette.types import Scope, Send

from api.core.errors import InternalError, SyndicateError
from api.core.problems import PROBLEM_JSON, error_problem, problem_bytes
from api.delivery.runtime import DeliveryRuntime, Outcome

PREFIX = "/v1/content/articles/"
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
_PROBLEM_TYPE = PROBLEM_JSON.encode()
log = logging.getLogger("syndicate.delivery")


def problem_outcome(exc: SyndicateError, instance: str) -> Outcome:
    body, headers = error_problem(exc, instance)
    data = problem_bytes(body)
    raw_headers = [(b"content-type", _PROBLEM_TYPE), (b"content-length", str(len(data)).encode())]
    raw_headers += [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
    return Outcome(exc.status, raw_headers, data)


# Request ids for requests that bring none (RequestIdMiddleware is not around the fast path): a
# random per-process prefix and a counter, as unique as uuid4().hex and a fraction of its cost.
_ids = count(1)
_id_prefix = b""


def _new_prefix() -> None:
    global _id_prefix, _ids
    _id_prefix, _ids = os.urandom(10).hex().encode(), count(1)


_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def request_id(incoming: bytes | None) -> bytes:
    if incoming and _SAFE_ID.match(incoming):
        return incoming
    return b"%s%012x" % (_id_prefix, next(_ids))


def bearer(header: bytes | None) -> str | None:
    if header and header[:7].lower() == b"bearer ":
        return header[7:].strip().decode("latin-1")
    return None


class ContentFastPath:
    """Answers the content hot path from in front of the FastAPI app: `routes.install` sets it as
    `SyndicateApp.front`, which asks `handles` and hands matching requests to `serve`."""

    def __init__(self, runtime: DeliveryRuntime) -> None:
        self.runtime = runtime

    @staticmethod
    def handles(scope: Scope) -> bool:
        path = scope.get("path", "")
        return (scope["type"] == "http" and scope["method"] == "GET" and path.startswith(PREFIX)
                and len(path) > len(PREFIX) and "/" not in path[len(PREFIX):])

    async def serve(self, scope: Scope, send: Send) -> tuple[int, bytes]:
        """Answers the request; returns its status and request id (for the access log)."""
        path = scope["path"]
        headers = dict(scope["headers"])
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"))) if scope["query_string"] else {}
        inm, ims = headers.get(b"if-none-match"), headers.get(b"if-modified-since")
        accept = headers.get(b"accept")
        rid = request_id(headers.get(b"x-request-id"))
        try:
            outcome = await self.runtime.serve_article(
                raw_token=bearer(headers.get(b"authorization")) or query.get("token"), article_id=path[len(PREFIX):],
                fmt=query.get("format"), accept=accept.decode("latin-1") if accept else None,
                territory=query.get("territory"), if_none_match=inm.decode("latin-1") if inm else None,
                if_modified_since=ims.decode("latin-1") if ims else None,
            )
        except SyndicateError as exc:
            outcome = problem_outcome(exc, path)
        except Exception:  # noqa: BLE001 - FastAPI's error middleware is not around us: answer like it
            log.exception("unhandled error on GET %s (request %s)", path, rid.decode())
            outcome = problem_outcome(InternalError("An unexpected error occurred; it has been logged."), path)
        await send({"type": "http.response.start", "status": outcome.status,
                    "headers": [*outcome.headers, (b"x-request-id", rid)]})
        await send({"type": "http.response.body", "body": outcome.body})
        return outcome.status, rid
