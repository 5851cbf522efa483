"""The access log: one JSON line per request, formatted and written off the request in batches.

uvicorn's access log (which `syndicate serve` turns off) builds a log record and formats and writes
a line on the event loop for every request: a noticeable share of a cached content request, which
is otherwise a few dictionary lookups. Here a request costs one tuple appended to a list; a thread
formats what gathered and writes it with one call every `flush_seconds`, and at shutdown.

With `access_log` off in the settings only server errors (5xx) are written; they are always
written. If the stream cannot keep up and `limit` lines wait, further non-error lines are dropped
and counted (the count is written with the next batch) rather than growing memory.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from json.encoder import encode_basestring
from typing import Any, TextIO


class AccessLog:
    def __init__(self, *, everything: bool = True, flush_seconds: float = 0.5, limit: int = 100_000,
                 stream: TextIO | None = None) -> None:
        self.everything = everything
        self.flush_seconds = flush_seconds
        self.limit = limit
        self._stream = stream  # None: sys.stderr as it is when a batch is written
        self._pending: list[tuple[Any, ...]] = []
        self._dropped = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one writer at a time (the thread, and a flush at stop)

    def record(self, scope: dict[str, Any], status: int, started: float, request_id: bytes | None = None) -> None:
        """Called once a request is answered; `started` is its `time.perf_counter()` at arrival."""
        if status < 500 and (not self.everything or len(self._pending) >= self.limit):
            self._dropped += self.everything
            return
        self._pending.append((time.time(), scope.get("client"), scope["method"], scope["path"], scope["query_string"],
                              status, time.perf_counter() - started, request_id))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="syndicate-access-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a full disk must not end the access log for good
                pass

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []  # a swap: requests append to the new list
            dropped, self._dropped = self._dropped, 0
            if not pending and not dropped:
                return
            lines = [format_line(*entry) for entry in pending]
            if dropped:
                lines.append(f'{{"event":"access_log_dropped","lines":{dropped}}}\n')
            stream = self._stream or sys.stderr
            stream.write("".join(lines))
            stream.flush()


_seconds: tuple[int, str] = (0, "")
_SECRET_PARAMETER = re.compile(r"(^|&)(token|key|api_key)=[^&]*", re.IGNORECASE)


def _timestamp(at: float) -> str:
    global _seconds
    whole = int(at)
    if _seconds[0] != whole:  # one strftime per second, not per line
        _seconds = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_seconds[1]}.{int((at - whole) * 1000):03d}Z"


def format_line(at: float, client: Any, method: str, path: str, query: bytes, status: int, seconds: float,
                request_id: bytes | None) -> str:
    # A licence token may come as `?token=`: the log is no place for it.
    target = path + "?" + _SECRET_PARAMETER.sub(r"\1\2=redacted", query.decode("latin-1")) if query else path
    host = f"{client[0]}:{client[1]}" if client else "-"
    rid = encode_basestring(request_id.decode("latin-1")) if request_id else "null"
    return (f'{{"ts":"{_timestamp(at)}","client":"{host}","method":"{method}","path":{encode_basestring(target)},'
            f'"status":{status},"ms":{seconds * 1000:.2f},"request_id":{rid}}}\n')
