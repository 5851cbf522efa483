"""The hot path: `GET /v1/content/articles/{id}` and `GET /v1/content/feed` served by a small ASGI
handler in front of FastAPI.

FastAPI's routing, dependency injection and response handling cost most of the budget of a request
that is otherwise a few dictionary lookups (the README's "Benchmark" section measures both). The
same operations are declared as FastAPI routes for the OpenAPI contract and share
`DeliveryRuntime.serve_article` and `feeds.serve_feed` with them. A feed request whose query FastAPI
would have to validate beyond what is checked here (`updated_since`, a malformed `limit`, `wait` or
`change_cursor`) is left to the route, so its 422 is FastAPI's own. Every other path, including the
rest of /v1/content, falls through to the app.
"""

from __future__ import annotations

import logging
import os
import re
from itertools import count
from urllib.parse import parse_qsl

from starlette.types import Scope, Send

from api.core.errors import InternalError, SyndicateError
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.core.problems import PROBLEM_JSON, error_problem, problem_bytes
from api.delivery.feeds import serve_feed
from api.delivery.longpoll import MAX_WAIT_SECONDS, ChangeNotifier
from api.delivery.runtime import DeliveryRuntime, Outcome

PREFIX = "/v1/content/articles/"
FEED_PATH = "/v1/content/feed"
FEED_QUERY = "syndicate.feed_query"  # the scope key `handles` leaves the feed's checked query under
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
_NUMBER = re.compile(r"[0-9]{1,19}")
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


def feed_query(query_string: bytes) -> dict[str, str] | None:
    """The feed request's query as the route's parameters would take it, or None when FastAPI must
    validate it (and answer 422 where it is wrong): `updated_since`, or a `limit`, `wait` or
    `change_cursor` that is not a number within the route's bounds."""
    # As Starlette reads a query: blank values kept, the last of a repeated name wins.
    query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)) if query_string else {}
    if "updated_since" in query:
        return None
    for name, low, high in (("limit", 1, MAX_LIMIT), ("wait", 1, MAX_WAIT_SECONDS)):
        value = query.get(name)
        if value is not None and not (_NUMBER.fullmatch(value) and low <= int(value) <= high):
            return None
    change_cursor = query.get("change_cursor")
    if change_cursor is not None and not _NUMBER.fullmatch(change_cursor):
        return None
    return query


class ContentFastPath:
    """Answers the content hot path from in front of the FastAPI app: `routes.install` sets it as
    `SyndicateApp.front`, which asks `handles` and hands matching requests to `serve`."""

    def __init__(self, runtime: DeliveryRuntime, notifier: ChangeNotifier | None = None) -> None:
        self.runtime = runtime
        self.notifier = notifier

    @staticmethod
    def handles(scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        path = scope.get("path", "")
        if path == FEED_PATH:
            query = feed_query(scope["query_string"])
            if query is None:
                return False
            scope[FEED_QUERY] = query
            return True
        return path.startswith(PREFIX) and len(path) > len(PREFIX) and "/" not in path[len(PREFIX):]

    async def serve(self, scope: Scope, send: Send) -> tuple[int, bytes]:
        """Answers the request; returns its status and request id (for the access log)."""
        path = scope["path"]
        headers = dict(scope["headers"])
        inm, ims = headers.get(b"if-none-match"), headers.get(b"if-modified-since")
        accept = headers.get(b"accept")
        rid = request_id(headers.get(b"x-request-id"))
        try:
            if path == FEED_PATH:
                query = scope[FEED_QUERY]
                limit, wait, change_cursor = query.get("limit"), query.get("wait"), query.get("change_cursor")
                outcome = await serve_feed(
                    self.runtime, raw_token=bearer(headers.get(b"authorization")) or query.get("token"),
                    fmt=query.get("format"), accept=accept.decode("latin-1") if accept else None, updated_since=None,
                    cursor=query.get("cursor"), limit=int(limit) if limit is not None else DEFAULT_LIMIT,
                    if_none_match=inm.decode("latin-1") if inm else None,
                    if_modified_since=ims.decode("latin-1") if ims else None,
                    change_cursor=change_cursor, wait=int(wait) if wait is not None else None, notifier=self.notifier)
            else:
                query = dict(parse_qsl(scope["query_string"].decode("latin-1"))) if scope["query_string"] else {}
                outcome = await self.runtime.serve_article(
                    raw_token=bearer(headers.get(b"authorization")) or query.get("token"),
                    article_id=path[len(PREFIX):], fmt=query.get("format"),
                    accept=accept.decode("latin-1") if accept else None, territory=query.get("territory"),
                    if_none_match=inm.decode("latin-1") if inm else None,
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
