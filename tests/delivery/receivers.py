"""Partner webhook endpoints for the tests: real HTTP servers on 127.0.0.1, well- and badly-behaved."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import update

from api.core.db import session_scope, utcnow
from api.outbox import service as outbox
from api.outbox.models import OutboxMessage

Answer = int | tuple[int, dict[str, str]]  # a status, or a status with headers (e.g. Retry-After)


class Receiver:
    """A real HTTP endpoint that answers with the queued statuses (then 204) and keeps what it got."""

    def __init__(self, statuses: list[Answer]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.delay = 0.0  # seconds before answering, like a slow partner endpoint
        self.release = threading.Event()  # answers at once when set, however long the delay
        self.in_post = threading.Event()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                receiver.in_post.set()
                receiver.release.wait(receiver.delay)
                body = self.rfile.read(int(self.headers["content-length"]))
                answer = receiver.statuses.pop(0) if receiver.statuses else 204
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with receiver._arrived:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver._arrived.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Whether `count` requests have arrived within `timeout` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.received) >= count, timeout)


class Misbehaving:
    """asyncio servers that read the request and then never answer, or answer one byte every 2.5 s."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def _serve(self, handle) -> str:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(handle, "127.0.0.1", 0)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        self.servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"

    def silent(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            await reader.read()  # until the sender gives up and closes

        return self._serve(handle)

    def trickling(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            for byte in b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(2.5)

        return self._serve(handle)

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def drain_everything_due(engine, passes: int = 10) -> None:
    """Run the worker until nothing is pending (or `passes` passes); retries are made due at once instead of
    waiting. A failed attempt delivers nothing, so "drain returned 0" does not mean "nothing left"."""
    for _ in range(passes):
        with session_scope(engine) as session:
            due = session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending")
                                  .values(next_attempt_at=utcnow())).rowcount
        if not due:
            return
        outbox.drain(engine)
