"""An emulated Nature Remo: its local HTTP API on a real socket, announced over mDNS.

    remo = RemoEmulator("127.0.0.70", port=0)
    await remo.start()            # http://127.0.0.70:<remo.port>/messages
    remo.hear(signal)             # a remote's button pressed at the Remo
    remo.sent                     # what it transmitted (RemoSignal values)

What it does, as the device does (shared/PROTOCOLS.md, "Nature Remo local API"):
- ``GET /messages``: the last IR signal it received, ``{"format":"us","freq":38,"data":[...]}``;
  before it has heard anything, an empty data list.
- ``POST /messages`` with such a body: transmit it; 200 once it has been sent.
- Both refuse a request without the ``X-Requested-With`` header (any value) with 400.
- One request at a time: a request that arrives while another is being handled (a signal is
  on the air) is answered 503; with ``rate_limit`` set, too many requests in a window are
  answered 429 with ``Retry-After``. These two are our model of a busy or throttled device: the
  hub retries them with backoff and says so when it gives up.
- A received signal is never bit-identical twice (``jitter_us`` of noise, like a real
  receiver), which is also how a client tells a new capture from the previous one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence

from aiohttp import web

from integrations.errors import ProtocolError
from integrations.nature_remo.mdns import RemoAdvertisement
from integrations.nature_remo.signal import RemoSignal, parse_body

_LOG = logging.getLogger(__name__)


class RemoEmulator:
    """A Nature Remo's local API (and optional mDNS announcement) on `bind:port`."""

    def __init__(
        self,
        bind: str = "127.0.0.1",
        port: int = 80,
        *,
        instance: str | None = None,
        advertise: bool = False,
        mdns_interfaces: Sequence[str] | None = None,
        air_time_scale: float = 1.0,
        jitter_us: int = 12,
        rate_limit: tuple[int, float] | None = None,
        auto_hear: Iterable[RemoSignal] = (),
        auto_hear_every: float = 0.0,
    ) -> None:
        self.bind = bind
        self._wanted_port = port
        self.port = port
        self.instance = instance or f"Remo-{random.getrandbits(24):06X}"
        self._advertise = advertise
        self._mdns_interfaces = mdns_interfaces
        self.air_time_scale = air_time_scale
        self.jitter_us = jitter_us
        self.rate_limit = rate_limit  # (requests, per seconds)
        self.received: RemoSignal | None = None
        self.sent: list[RemoSignal] = []
        self.requests: list[tuple[str, int]] = []  # (method, status) of every request
        self.refuse_all_with: int | None = None  # answer every request with this status
        self._busy = asyncio.Lock()
        self._recent: collections.deque[float] = collections.deque()
        self._auto_hear = list(auto_hear)
        self._auto_hear_every = auto_hear_every
        self._auto_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._adv: RemoAdvertisement | None = None

    @property
    def url(self) -> str:
        """Base URL of the local API."""
        return f"http://{self.bind}:{self.port}"

    # --- the room around it -------------------------------------------------------------------

    def hear(self, signal: RemoSignal) -> None:
        """A remote's button pressed at the Remo: it becomes the last received signal."""
        noisy = tuple(
            max(1, d + random.randint(-self.jitter_us, self.jitter_us)) for d in signal.data
        )
        if self.received is not None and noisy == self.received.data:
            noisy = (noisy[0] + 1, *noisy[1:])  # two captures are never identical
        self.received = RemoSignal(signal.freq_khz, noisy)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (port 0 picks a free one; a restart reuses the first port) and announce."""
        app = web.Application()
        app.router.add_get("/messages", self._get)
        app.router.add_post("/messages", self._post)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, self._wanted_port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = self._wanted_port = int(self._runner.addresses[0][1])
        if self._advertise:
            self._adv = RemoAdvertisement(self.instance, self.bind, self.port,
                                          self._mdns_interfaces)
            await self._adv.start()
        if self._auto_hear and self._auto_hear_every > 0:
            self._auto_task = asyncio.create_task(self._auto_hear_loop())

    async def stop(self) -> None:
        """Say goodbye over mDNS and close the socket (like pulling the plug, but polite)."""
        if self._auto_task is not None:
            self._auto_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._auto_task
            self._auto_task = None
        if self._adv is not None:
            adv, self._adv = self._adv, None
            await adv.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _auto_hear_loop(self) -> None:
        # The demo's "someone in the room presses a remote now and then", for learning.
        index = 0
        while True:
            await asyncio.sleep(self._auto_hear_every)
            self.hear(self._auto_hear[index % len(self._auto_hear)])
            index += 1

    # --- the local API ------------------------------------------------------------------------

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self.refuse_all_with is not None:
            return web.Response(status=self.refuse_all_with, text="unavailable\n")
        if "X-Requested-With" not in request.headers:
            return web.Response(status=400, text="X-Requested-With header required\n")
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            now = time.monotonic()
            while self._recent and now - self._recent[0] > window:
                self._recent.popleft()
            if len(self._recent) >= limit:
                # rounded up: a client that waits what it is told must then be let in
                retry = math.ceil(max(0.0, window - (now - self._recent[0])) * 100) / 100
                return web.Response(status=429, text="too many requests\n",
                                    headers={"Retry-After": f"{retry:.2f}"})
            self._recent.append(now)
        if self._busy.locked():
            return web.Response(status=503, text="busy\n")
        return None

    def _log(self, request: web.Request, response: web.Response) -> web.Response:
        self.requests.append((request.method, response.status))
        return response

    async def _get(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return self._log(request, refusal)
        async with self._busy:
            body = self.received.to_json() if self.received else {
                "format": "us", "freq": 38, "data": []
            }
            return self._log(request, web.json_response(body))

    async def _post(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return self._log(request, refusal)
        async with self._busy:
            try:
                signal = parse_body(json.loads(await request.read()))
                if signal is None:
                    raise ProtocolError("the signal has no data")
            except (ValueError, ProtocolError) as err:
                return self._log(request, web.Response(status=400, text=f"{err}\n"))
            # the IR LED is busy for the signal's length; requests meanwhile get 503
            await asyncio.sleep(signal.air_time_s * self.air_time_scale)
            self.sent.append(signal)
            return self._log(request, web.Response(status=200))
