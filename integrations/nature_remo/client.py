"""A client of one Nature Remo's local HTTP API, with the device's manners built in.

    remo = RemoClient("192.168.1.50", 80, name="Remo-1ABCDE")
    await remo.send(signal)                     # POST /messages
    signal = await remo.last_received()         # GET /messages
    signal = await remo.learn(30.0, progress)   # wait for a new capture
    await remo.close()

A Remo handles one request at a time, so requests are serialised here; busy (503) and
rate-limited (429) answers are retried with exponential backoff (Retry-After when given).
Errors: DeviceUnreachable (no answer: the Remo is off or moved), CommandFailed (it answered
but refused, or stayed busy), each message saying what to do.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from integrations.errors import CommandFailed, DeviceUnreachable, ProtocolError
from integrations.nature_remo.signal import RemoSignal, parse_body

DEFAULT_PORT = 80
RETRY_AFTER_MARGIN_S = 0.05
RETRY_STATUSES = {429: "rate-limited (429)", 503: "busy (503)"}
# The header the local API insists on (any value); without it a Remo answers 400.
HEADERS = {"X-Requested-With": "homehub", "Accept": "application/json"}

ProgressCallback = Callable[[float, float], None]


class RemoClient:
    """One Remo at `host:port`; `name` (its mDNS instance) is used in messages."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        name: str | None = None,
        timeout: float = 5.0,
        retries: int = 4,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
        learn_poll_s: float = 0.5,
    ) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.learn_poll_s = learn_poll_s
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @property
    def label(self) -> str:
        """`Remo-1ABCDE at 192.168.1.50:80` (or just the address)."""
        where = f"{self.host}:{self.port}"
        return f"{self.name} at {where}" if self.name else f"the Nature Remo at {where}"

    def moved(self, host: str, port: int) -> None:
        """The Remo has a new address (a new DHCP lease seen over mDNS)."""
        self.host, self.port = host, port

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # --- the two endpoints --------------------------------------------------------------------

    async def send(self, signal: RemoSignal) -> None:
        """Transmit one signal; returns once the Remo says it has been sent."""
        await self._request("POST", signal.to_json())

    async def last_received(self) -> RemoSignal | None:
        """The last signal the Remo heard (None before it heard any)."""
        text = await self._request("GET")
        try:
            return parse_body(json.loads(text) if text.strip() else None)
        except (ValueError, ProtocolError) as err:
            raise CommandFailed(f"{self.label} answered GET /messages oddly: {err}") from err

    async def probe(self) -> int:
        """One GET, never retried: the HTTP status (a busy or throttled Remo is still there).

        A reachability check must not retry: a throttled probe that retried would hold the
        device's one-at-a-time lock and spend the request budget a waiting command needs."""
        async with self._lock:
            status, _, _ = await self._once("GET", None)
            return status

    async def learn(
        self, timeout_s: float = 30.0, progress: ProgressCallback | None = None
    ) -> RemoSignal:
        """Wait for a signal the Remo hears from now on (one that differs from the last one)."""
        started = time.monotonic()
        before = await self.last_received()
        while True:
            elapsed = time.monotonic() - started
            if progress is not None:
                progress(elapsed, max(0.0, timeout_s - elapsed))
            if elapsed >= timeout_s:
                raise CommandFailed(
                    f"learning timed out: {self.label} heard no IR signal in {timeout_s:g} s; "
                    "point the remote at the Remo from close by and press the button again"
                )
            await asyncio.sleep(min(self.learn_poll_s, max(0.0, timeout_s - elapsed)))
            now = await self.last_received()
            if now is not None and now != before:
                return now

    # --- transport ----------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=HEADERS, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    async def _request(self, method: str, body: Any = None) -> str:
        async with self._lock:  # the device handles one request at a time
            last = ""
            for attempt in range(self.retries + 1):
                status, text, retry_after = await self._once(method, body)
                if status == 200:
                    return text
                if status not in RETRY_STATUSES:
                    raise CommandFailed(_refused(self.label, method, status, text))
                last = RETRY_STATUSES[status]
                if attempt < self.retries:
                    await asyncio.sleep(self._delay(attempt, retry_after))
            tries = self.retries + 1
            raise CommandFailed(
                f"{self.label} stayed {last} through {tries} {'try' if tries == 1 else 'tries'} "
                f"of {method} "
                "/messages; it handles one request at a time: try again in a moment, and keep "
                "apps that poll it (other hubs, scripts) from hammering it"
            )

    async def _once(self, method: str, body: Any) -> tuple[int, str, float | None]:
        url = f"http://{self.host}:{self.port}/messages"
        try:
            async with self._client().request(method, url, json=body) as resp:
                text = await resp.text()
                return resp.status, text, _seconds(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise DeviceUnreachable(
                f"{self.label} did not answer ({self._why(err)}); check that it is powered and "
                "on this network"
            ) from err

    def _why(self, err: BaseException) -> str:
        if isinstance(err, TimeoutError):
            return f"nothing within {self.timeout:g} s"
        if isinstance(err, aiohttp.ClientConnectorError):
            if isinstance(err.os_error, ConnectionRefusedError):
                return "connection refused"
            return err.os_error.strerror or str(err.os_error)
        return str(err) or type(err).__name__

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # a little past the moment given: arriving on the boundary risks one more refusal
            return min(retry_after + RETRY_AFTER_MARGIN_S, self.max_backoff_s)
        cap = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return random.uniform(cap / 2, cap)  # jitter: two hubs do not retry in step


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _refused(label: str, method: str, status: int, text: str) -> str:
    detail = text.strip()[:200] or "no reason given"
    if status == 400:
        return f"{label} refused {method} /messages as a bad request ({detail})"
    if status == 404:
        return (
            f"{label} has no local API at /messages (HTTP 404); is it a Nature Remo (not a Remo "
            "nano, which has no local API)?"
        )
    return f"{label} answered {method} /messages with HTTP {status} ({detail})"
