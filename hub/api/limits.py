"""Connection limits for the hub's HTTP server: slow and half-open clients cannot take it down.

- A connection cap below the open-file limit, with headroom for the database, devices and logs.
  At the cap the oldest connection that has not finished sending its request headers is cut to
  make room (a half-open flood loses its own connections, a real client gets in); when every
  connection is busy with a request, the new one gets a short 503.
- A deadline for the first request's headers; keep-alive idle time is aiohttp's own timeout and
  the body deadline lives in the request handler (hub/api/http.py).
- One rate-limited log line instead of a traceback per refused accept.

    guard = ConnectionGuard(max_connections=open_file_budget(), header_timeout_s=10)
    site = GuardedSite(runner, guard, bind_listener(host, port))
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

_LOG = logging.getLogger(__name__)

_BUSY_BODY = b'{"error": {"status": 503, "message": "the hub has too many connections; retry"}}'
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 2\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; return the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not on this platform
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as err:
            _LOG.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, err)
    return int(soft)


def connection_budget(open_files: int) -> int:
    """Client connections to allow under `open_files`: an eighth (at least 64) stays free."""
    return max(16, open_files - max(64, open_files // 8))


class RateLimitedLog:
    """Say a warning at most once per `every_s`, with how many were held back."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last = -1e9
        self._held = 0

    def warning(self, message: str) -> None:
        """Log now, or count it for the next line."""
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} more like this since the last line)" if held else ""
        self.logger.warning("%s%s", message, suffix)


class _Guarded(asyncio.Protocol):
    """Passes everything to aiohttp's protocol; tells the guard when headers are complete."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.headers_done = False
        self.admitted = False
        self._tail = b""
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard.admit(self):
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self.admitted = True
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.guard.header_timeout_s, self._too_slow)
        self.inner.connection_made(transport)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.headers_done and self.transport is not None:
            self.guard.slow_closed += 1
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self.headers_done:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self.headers_done = True
                self.guard.started(self)
                if self._deadline is not None:
                    self._deadline.cancel()
                    self._deadline = None
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class ConnectionGuard:
    """Counts the server's connections; cuts or refuses beyond `max_connections`."""

    def __init__(self, max_connections: int, header_timeout_s: float = 10.0) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._waiting: OrderedDict[int, _Guarded] = OrderedDict()  # no headers yet, oldest first
        self._active: set[int] = set()
        self._log = RateLimitedLog(_LOG)
        #: Counters for tests and metrics.
        self.evicted = 0
        self.refused = 0
        self.slow_closed = 0

    def __len__(self) -> int:
        return len(self._waiting) + len(self._active)

    def protocol_factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], _Guarded]:
        """Wrap aiohttp's protocol factory."""
        return lambda: _Guarded(self, make())

    def admit(self, conn: _Guarded) -> bool:
        """Take a place for a new connection, cutting the oldest silent one if needed."""
        if len(self) >= self.max_connections:
            if self._waiting:
                _, oldest = self._waiting.popitem(last=False)
                self.evicted += 1
                if oldest.transport is not None:
                    oldest.transport.abort()  # its connection_lost follows from the loop
            else:
                self.refused += 1
                self._log.warning(
                    f"{self.max_connections} connections are open and all busy; refusing new "
                    "ones (raise the open-file limit, ulimit -n, to allow more)"
                )
                return False
            self._log.warning(
                f"{self.max_connections} connections are open; cutting the oldest that sent "
                "no request yet (slow or half-open clients)"
            )
        self._waiting[id(conn)] = conn
        return True

    def started(self, conn: _Guarded) -> None:
        """The connection sent a full request head: no longer a candidate to cut."""
        if self._waiting.pop(id(conn), None) is not None:
            self._active.add(id(conn))

    def forget(self, conn: _Guarded) -> None:
        """The connection is gone."""
        self._waiting.pop(id(conn), None)
        self._active.discard(id(conn))


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through a ConnectionGuard."""

    __slots__ = ("_guard", "_sock")

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, sock: socket.socket) -> None:
        super().__init__(runner)
        self._guard = guard
        self._sock = sock

    @property
    def name(self) -> str:
        """The listen URL."""
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Serve on the already bound socket with the guard in front of aiohttp's protocol."""
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            self._guard.protocol_factory(server), sock=self._sock
        )


async def read_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """Up to limit+1 bytes of the body; TimeoutError when it trickles in slower than timeout_s."""
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s):
        while size <= limit:
            chunk = await request.content.read(limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, what: str = "hub") -> None:
    """Out of file handles, asyncio logs a traceback per refused accept; say it once a minute."""
    log = RateLimitedLog(logging.getLogger(what))
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "accept() out of system resource" in str(context.get("message", "")):
            log.warning(
                "out of file handles: new connections wait; raise the open-file limit (ulimit -n)"
            )
            return
        if default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
