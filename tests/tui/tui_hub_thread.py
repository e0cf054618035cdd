"""A real hub running on its own event loop in a thread, for the (synchronous) snapshot tests.

snap_compare runs the app on a loop of its own, so the hub cannot share the test's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from hub.app import HubComponent
from hub.clock import ManualClock
from hub.model import Integration
from hub.testing import RunningHub, running_hub

T = TypeVar("T")


class HubThread:
    """Start with `with HubThread(...) as ht:`; `ht.call(coro)` runs a coroutine on the hub loop."""

    def __init__(
        self,
        data_dir: Path,
        integrations: Sequence[Integration],
        *,
        components: Sequence[HubComponent] = (),
        clock: ManualClock | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.integrations = list(integrations)
        self.components = list(components)
        self.clock = clock
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.rh: RunningHub
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with running_hub(
                self.data_dir,
                self.integrations,
                config=self.config,
                clock=self.clock,
                components=self.components,
            ) as rh:
                await rh.hub.wait_integrations()
                self.rh = rh
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as err:
            if not self._ready.done():
                self._ready.set_exception(err)
            raise

    def __enter__(self) -> HubThread:
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        self._ready.result(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._task.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the hub's loop and wait for its result (from a plain thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run a coroutine on the hub's loop; await the result from another loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))
