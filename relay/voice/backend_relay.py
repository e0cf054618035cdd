"""The VoiceBackend over a running relay node: its shadow cache, routing and write queue."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relay import protocol as p
from relay.errors import HubBusy, HubOffline, HubTimeout, RelayError
from relay.voice.backend import ApplyFailure, ApplyResult, ApplyStatus, HubDevices

if TYPE_CHECKING:
    from relay.server import RelayServer

VOICE_TTL_S = 120.0  # a spoken command that waits longer than this would surprise the user


def _failure_for(status: int) -> ApplyFailure:
    if status == 404:
        return ApplyFailure.NOT_FOUND
    if status in (400, 409, 422):
        return ApplyFailure.INVALID
    if status in (503, 504):
        return ApplyFailure.BUSY
    return ApplyFailure.OTHER


class RelayVoiceBackend:
    """Reads the account's hubs from the relay's cache; writes like the phone API's /desired."""

    def __init__(self, server: RelayServer, ttl_s: float = VOICE_TTL_S) -> None:
        self.server = server
        self.ttl_s = ttl_s

    async def hubs(self, account: str) -> list[HubDevices]:
        """The account's claimed hubs with their cached device JSON."""
        out = []
        for row, _, _ in await self.server.store.account_hubs(account):
            online = await self.server.routing.is_online(row.id)
            cached = await self.server.shadows.devices(row.id)
            out.append(HubDevices(row.id, online, [c.device for _, c in sorted(cached.items())]))
        return out

    async def apply(
        self,
        account: str,
        hub_id: str,
        device_id: str,
        values: Mapping[str, Any],
        idempotency_key: str,
    ) -> ApplyResult:
        """Deliver at once when the hub is online; queue (short TTL) if it just went away."""
        store, routing = self.server.store, self.server.routing
        if not await store.owns(account, hub_id):
            return ApplyResult(ApplyStatus.ERROR, ApplyFailure.NOT_FOUND, "not a hub of yours")
        body = {"values": dict(values), "ttl_s": self.ttl_s}
        # Same key namespace as the phone API: a retried directive never applies twice. Hashed so
        # any assistant-made key fits the hub's limit without two keys ever sharing a prefix.
        key = f"relay:{account}:voice-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}"
        online = await routing.is_online(hub_id)
        if online and await store.queue_count(hub_id) > 0:
            # Writes queued while the hub was away are still being delivered, in order; a spoken
            # command should not silently wait behind them.
            return ApplyResult(ApplyStatus.ERROR, ApplyFailure.BUSY,
                               "earlier commands for this hub are still being delivered; "
                               "try again in a moment")
        if online:
            request = p.Request(
                0, "PUT", f"/api/v1/devices/{device_id}/desired", {},
                {"idempotency-key": key, "content-type": "application/json"},
                json.dumps(body), f"relay:{account}",
            )
            try:
                resp = await routing.call(hub_id, request, self.server.config.request_timeout_s)
            except HubOffline:
                pass  # went offline just now: queue below
            except (HubBusy, HubTimeout) as err:
                return ApplyResult(ApplyStatus.ERROR, ApplyFailure.BUSY, err.message)
            except RelayError as err:
                return ApplyResult(ApplyStatus.ERROR, ApplyFailure.OTHER, err.message)
            else:
                detail = resp.body if isinstance(resp.body, Mapping) else {}
                if resp.status < 300:
                    return ApplyResult(ApplyStatus.SUCCESS, detail=detail)
                error = detail.get("error")
                message = str(error.get("message") if isinstance(error, Mapping) else error
                              or f"the hub answered HTTP {resp.status}")
                return ApplyResult(ApplyStatus.ERROR, _failure_for(resp.status), message, detail)
        now = time.time()
        seq = await store.enqueue(hub_id, account, device_id, body, key, now, now + self.ttl_s)
        return ApplyResult(ApplyStatus.QUEUED, detail={"id": f"q{seq}"})
