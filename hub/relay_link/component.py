"""The relay link as a hub component: tunnel + shadow push + event forwarding + claim codes.

Proxied requests go straight to `hub.router.dispatch` (no local HTTP hop) with the trusted
principal ``relay:<account>`` that the relay vouches for.

Events go to the relay as they happen and are lost while the link is down, except
`notification` events: those are read from the inbox past the last version the relay took
(kept in the database), so an alert raised during an internet outage still reaches phones
(the relay turns it into Web Push) once the link is back, and once only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.api.messages import ApiRequest
from hub.api.router import Call, Router
from hub.errors import Forbidden, Unavailable
from hub.events import (
    DesiredChanged,
    DeviceAdded,
    DeviceAvailability,
    DeviceRemoved,
    DeviceUpdated,
    Event,
    Notification,
    StateChanged,
)
from hub.relay_link.client import LinkError, TunnelClient
from hub.relay_link.identity import HubIdentity
from hub.relay_link.reconnect import ReconnectLogic
from relay import protocol as p

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.config import HubConfig

_LOG = logging.getLogger(__name__)

PUSH_INTERVAL_S = 0.05
EVENT_QUEUE = 1000
#: Inbox sends forwarded per read; more are read at once after.
NOTIFICATION_BATCH = 100
#: Where the link keeps the version of the last notification the relay took.
NOTIFIED_KEY = "relay_notified_version"
_SHADOW_EVENTS = (StateChanged, DesiredChanged, DeviceAvailability, DeviceAdded, DeviceUpdated)


class RelayLink:
    """Keeps the hub reachable through a relay it dials out to."""

    def __init__(
        self,
        relay_url: str,
        *,
        identity: HubIdentity | None = None,
        reconnect: ReconnectLogic | None = None,
    ) -> None:
        self.relay_url = relay_url
        self._identity = identity
        self._reconnect = reconnect
        self.hub: Hub | None = None
        self.client: TunnelClient | None = None
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._wake = asyncio.Event()
        self._notify_wake = asyncio.Event()
        self._notified = 0  # version of the last inbox send the relay took
        self._synced = False
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Any = None

    # ------------------------------------------------------------------ HubComponent
    async def start(self, hub: Hub) -> None:
        """Load (or create) the identity and start dialling."""
        self.hub = hub
        if self._identity is None:
            self._identity = await HubIdentity.load_or_create_async(hub.config.data_dir)
        self.client = TunnelClient(
            self.relay_url,
            self._identity,
            self,
            local_id=hub.hub_id,
            name=hub.config.name,
            reconnect=self._reconnect,
        )
        self._unsubscribe = hub.bus.subscribe(self._on_shadow_event)
        # Notifications take their own, durable path (_notification_loop).
        stream = hub.bus.stream(EVENT_QUEUE, lambda e: not isinstance(e, Notification))
        stored = await hub.db.get_kv(NOTIFIED_KEY)
        # A hub linked for the first time does not replay its whole inbox to phones.
        self._notified = int(stored) if stored else await hub.notifications.latest_version()
        self._tasks = [
            asyncio.create_task(self._push_loop(), name="relay-shadow-push"),
            asyncio.create_task(self._event_loop(stream), name="relay-events"),
            asyncio.create_task(self._notification_loop(), name="relay-notifications"),
        ]
        self.client.start()

    async def stop(self) -> None:
        """Close the tunnel."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.client is not None:
            await self.client.stop()

    def register_routes(self, router: Router) -> None:
        """POST /relay/claim-code and GET /relay/status."""

        @router.add(
            "POST",
            "/relay/claim-code",
            "A one-time code that claims this hub for a relay account",
            tag="relay",
            responses={403: "only from the LAN", 503: "not connected to the relay"},
        )
        async def claim_code(call: Call) -> Any:
            if call.principal.startswith("relay:"):
                raise Forbidden("claim codes are issued only to LAN clients of the hub")
            return await self.claim_code()

        @router.add("GET", "/relay/status", "The relay link's state", tag="relay")
        async def status(call: Call) -> Any:
            return self.status()

    # ------------------------------------------------------------------ public
    async def claim_code(self) -> dict[str, Any]:
        """Ask the relay for a one-time claim code."""
        client = self.client
        if client is None or not client.connected:
            raise Unavailable(
                f"not connected to the relay at {self.relay_url}; "
                f"check [relay] url and GET /api/v1/relay/status"
            )
        try:
            code = await client.request_claim_code()
        except LinkError as err:
            raise Unavailable(f"the relay did not give a claim code: {err}; retry") from err
        return {
            "code": code.code,
            "expires_in": code.expires_in,
            "relay_hub_id": client.relay_hub_id,
            "relay_url": self.relay_url,
        }

    async def upload_backup(
        self,
        path: Path,
        backup_id: str,
        vault_id: str,
        keep: int,
        progress: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """Upload an encrypted backup through the tunnel, one acknowledged piece at a time."""
        client = self.client
        if client is None or not client.connected:
            raise Unavailable(f"not connected to the relay at {self.relay_url}; the backup is "
                              "kept on the hub and goes off-site next time")
        size, digest = await asyncio.to_thread(_size_and_digest, path)
        cid = client.next_call_id()
        try:
            await client.call(p.BackupPut(cid, backup_id, vault_id, size, digest, keep))
            seq = sent = 0
            while sent < size:
                data = await asyncio.to_thread(_read_at, path, sent, p.BACKUP_CHUNK_BYTES)
                await client.call(p.BackupChunk(cid, seq, p.b64(data)), timeout=60)
                sent += len(data)
                seq += 1
                if progress is not None:
                    progress(sent / size)
            ack = await client.call(p.BackupDone(cid), timeout=60)
        except LinkError as err:
            raise Unavailable(f"the relay did not take the backup: {err}") from err
        assert isinstance(ack, p.BackupAck)
        return {
            "object_id": ack.object_id,
            "size_bytes": size,
            "account_used_bytes": ack.used_bytes,
            "account_quota_bytes": ack.quota_bytes,
        }

    def status(self) -> dict[str, Any]:
        """State, ids and the last error, for people diagnosing the link."""
        c = self.client
        return {
            "relay_url": self.relay_url,
            "state": c.state.value if c else "idle",
            "relay_hub_id": c.relay_hub_id if c else None,
            "connected_since": c.connected_since if c else None,
            "sessions": c.sessions if c else 0,
            "last_error": c.last_error if c else "",
        }

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until the tunnel is up and the first resync is sent."""
        assert self.client is not None
        async with asyncio.timeout(timeout):
            while not (self.client.connected and self._synced):
                await self.client.wait_connected(timeout)
                await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ TunnelHandler
    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        """Resync: send each device whose record differs from the relay's copy."""
        assert self.hub is not None
        self._synced = False
        self._removed.clear()
        self._dirty.clear()
        devices = self.hub.registry.devices
        for device_id, rec in list(devices.items()):
            doc = rec.to_dict()
            digest = p.record_digest(rec.shadow.version, doc)
            if welcome.shadow_digests.get(device_id) != digest:
                await client.send(p.ShadowUpdate(device_id, rec.shadow.version, doc, resync=True))
        await client.send(p.ResyncDone(tuple(devices)))
        self._synced = True
        self._wake.set()
        self._notify_wake.set()  # what was sent while the link was down

    async def on_request(self, request: p.Request) -> p.Response:
        """Run a proxied request through the same router as the LAN API."""
        assert self.hub is not None
        principal = request.principal or "relay:unknown"
        if not principal.startswith("relay:"):
            principal = "relay:" + principal
        resp = await self.hub.router.dispatch(
            ApiRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.body.encode(),
                trusted_principal=principal,
            )
        )
        return p.Response(request.id, resp.status, resp.value(), dict(resp.headers))

    def on_disconnected(self) -> None:
        """Pushes wait for the next resync."""
        self._synced = False

    # ------------------------------------------------------------------ pushing
    def _on_shadow_event(self, event: Event) -> None:
        if isinstance(event, Notification):
            self._notify_wake.set()
        elif isinstance(event, DeviceRemoved):
            self._removed.add(event.device)
            self._dirty.discard(event.device)
            self._wake.set()
        elif isinstance(event, _SHADOW_EVENTS) and event.device_id is not None:
            self._dirty.add(event.device_id)
            self._wake.set()

    async def _push_loop(self) -> None:
        # Coalesce: a device reporting 50 times a second is pushed at most 20 times a second.
        assert self.hub is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            client = self.client
            if client is None or not client.connected or not self._synced:
                continue
            dirty, self._dirty = self._dirty, set()
            removed, self._removed = self._removed, set()
            try:
                for device_id in removed:
                    await client.send(p.ShadowGone(device_id))
                for device_id in dirty:
                    rec = self.hub.registry.devices.get(device_id)
                    if rec is not None:
                        await client.send(
                            p.ShadowUpdate(device_id, rec.shadow.version, rec.to_dict())
                        )
            except (LinkError, p.FrameTooLarge) as err:
                # The next session resyncs from digests, so nothing is lost for good.
                _LOG.info("relay shadow push interrupted: %s", err)
            await asyncio.sleep(PUSH_INTERVAL_S)

    async def _notification_loop(self) -> None:
        # One reader of the inbox: nothing is forwarded twice by two paths at once, and the
        # stored version moves only past what the relay took (at-least-once across a crash).
        assert self.hub is not None
        inbox = self.hub.notifications
        while True:
            await self._notify_wake.wait()
            self._notify_wake.clear()
            client = self.client
            if client is None or not client.connected or not self._synced:
                continue
            try:
                sends = await inbox.sent_since(self._notified, NOTIFICATION_BATCH)
            except Exception:
                _LOG.exception("reading the notifications inbox failed")
                continue
            done = self._notified
            for version, event in sends:
                try:
                    await client.send(p.EventFrame(event))
                except p.FrameTooLarge as err:  # never fits: skip it rather than block the rest
                    _LOG.warning("notification %s not forwarded: %s", event.get("id"), err)
                except LinkError as err:  # the next welcome wakes this loop again
                    _LOG.info("relay notification forward interrupted: %s", err)
                    break
                done = version
            if done != self._notified:
                self._notified = done
                try:
                    await self.hub.db.set_kv(NOTIFIED_KEY, str(done))
                except Exception:
                    _LOG.exception("saving the relay's notification mark failed")
            if len(sends) == NOTIFICATION_BATCH:
                self._notify_wake.set()

    async def _event_loop(self, stream: Any) -> None:
        try:
            async for event in stream:
                client = self.client
                if client is None or not client.connected:
                    continue
                with contextlib.suppress(LinkError, p.FrameTooLarge):
                    await client.send(p.EventFrame(event.to_dict()))
        finally:
            stream.close()


def _size_and_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def relay_link_factory(config: HubConfig) -> RelayLink | None:
    """The component `default_components` adds when `[relay] url` is set."""
    if not config.relay_url:
        return None
    return RelayLink(config.relay_url)
