"""The offline queue: desired writes kept for a hub that is away, delivered in order when it is
back, each once (every write carries its idempotency key, so a retry is answered as a replay).

    queue = QueueDelivery(store, routing, config)
    await queue.forward(hub_id, account_id, device_id, body, key)   # straight to the hub
    queue.kick(hub_id)               # the hub is reachable: deliver what waits for it
    await queue.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from relay import protocol as p
from relay.config import RelayConfig
from relay.errors import RelayError
from relay.routing import Routing
from relay.store import RelayStore

_LOG = logging.getLogger(__name__)


class QueueDelivery:
    """Forwards desired writes and drains each hub's queue with one task per hub."""

    def __init__(self, store: RelayStore, routing: Routing, config: RelayConfig) -> None:
        self.store = store
        self.routing = routing
        self.config = config
        self._delivering: dict[str, asyncio.Task[None]] = {}
        self._notices: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        routing.on_notice(self._on_notice)

    def _on_notice(self, notice: str, hub_id: str) -> None:
        if notice == "queue":
            self.kick(hub_id)

    async def forward(
        self, hub_id: str, account_id: str, device_id: str, body: Mapping[str, Any], key: str
    ) -> p.Response:
        """Send one desired write to the hub now (wherever its tunnel is)."""
        return await self.routing.call(
            hub_id,
            p.Request(
                0,
                "PUT",
                f"/api/v1/devices/{device_id}/desired",
                {},
                {"idempotency-key": key, "content-type": "application/json"},
                json.dumps(dict(body)),
                f"relay:{account_id}",
            ),
            self.config.request_timeout_s,
        )

    def kick(self, hub_id: str) -> None:
        """Deliver the hub's queue: here if this node holds the hub, else on the node that does."""
        if not self.routing.is_local(hub_id):
            notice = asyncio.create_task(self.routing.notify(hub_id, "queue"))
            self._notices.add(notice)
            notice.add_done_callback(self._notices.discard)
            return
        task = self._delivering.get(hub_id)
        if task is None or task.done():
            self._delivering[hub_id] = asyncio.create_task(
                self._deliver(hub_id), name=f"relay-queue-{hub_id}"
            )

    def start(self, sweep_s: float = 2.0) -> None:
        """Look for waiting writes of local hubs every `sweep_s` (a kick sent to a node that
        died on the way is not lost: the hub's new node finds the write here)."""
        self._sweeper = asyncio.create_task(self._sweep(sweep_s), name="relay-queue-sweep")

    async def _sweep(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                for hub_id in await self.store.hubs_with_queued():
                    if self.routing.is_local(hub_id):
                        self.kick(hub_id)
            except Exception:
                _LOG.exception("could not look for queued writes; will retry")

    async def stop(self) -> None:
        """Cancel deliveries under way (what is undelivered stays queued)."""
        tasks = [t for t in (self._sweeper, *self._delivering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        # Wait for them to end: a task still running after stop() would touch a closed store.
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, hub_id: str) -> None:
        """Apply queued writes in order; each carries its idempotency key, so never twice.

        Only the node holding the hub delivers; a write is finished only while still queued,
        so a node that delivered it too (the hub moved meanwhile) changes nothing.
        """
        while True:
            items = await self.store.queued(hub_id)
            if not items:
                break
            for item in items:
                if not self.routing.is_local(hub_id):
                    return  # the hub moved: its new node delivers the rest
                if item.expires_at <= time.time():
                    await self.store.finish_queued(item.seq, "expired", None)
                    continue
                try:
                    resp = await self.forward(
                        hub_id, item.account_id, item.device_id, item.body, item.idempotency_key
                    )
                except RelayError as err:
                    # Offline or timed out: keep it; the next connection retries with the same
                    # key, and the hub answers a replay if the first attempt did land.
                    _LOG.info("queued write q%d for %s waits: %s", item.seq, hub_id, err.message)
                    return
                if resp.status >= 500:
                    return
                status = "delivered" if resp.status < 300 else "rejected"
                if not await self.store.finish_queued(item.seq, status, resp.body):
                    continue  # another node recorded it first
                self.routing.publish(
                    hub_id,
                    {
                        "type": "queued_write",
                        "id": f"q{item.seq}",
                        "status": status,
                        "device": item.device_id,
                        "result": resp.body,
                        "ts": time.time(),
                    },
                )
        self._delivering.pop(hub_id, None)
