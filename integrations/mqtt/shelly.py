"""Shelly Gen2/Gen3 devices in the hub: JSON-RPC 2.0 over MQTT.

A device with MQTT enabled publishes `<prefix>/online` (`true`, retained; its will says
`false`), takes requests on `<prefix>/rpc` and answers on `<src>/rpc`, where `src` is the name
the caller put in its request; with RPC notifications on, `NotifyStatus`/`NotifyFullStatus` go
to `<prefix>/events/rpc`. The prefix defaults to the device id (`shellyplus1pm-a8032ab12345`).
The hub listens to `+/online` for ids starting with "shelly" (and to the prefixes configured
in `shelly_prefixes`), asks each new one `Shelly.GetDeviceInfo` and `Shelly.GetStatus`, and
offers it for adoption.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from hub.model import DeviceDescription, DiscoveredDevice
from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.mqtt.errors import BrokerUnavailable, PayloadError
from integrations.mqtt.family import DOMAIN, Family
from integrations.mqtt.link import Inbound
from integrations.mqtt.mapping import parse_object
from integrations.mqtt.shelly_mapping import ShellyDevice, map_device, parse_frame

_LOG = logging.getLogger(__name__)


class RpcError(CommandFailed):
    """The device answered a call with an error object."""


class ShellyFamily(Family):
    """Shelly Gen2+ devices over MQTT RPC."""

    name = "shelly"
    short = "shelly"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.src = f"homehub-{secrets.token_hex(4)}"  # where our answers come back
        self.devices: dict[str, ShellyDevice] = {}  # by hub id
        self.by_prefix: dict[str, str] = {}  # topic prefix -> hub id
        self.online_flag: dict[str, bool] = {}  # topic prefix -> its online topic
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._probing: set[str] = set()
        self._events: set[str] = set()  # prefixes whose events we subscribed to
        for stored in self.stored():
            prefix = str(stored.extra.get("prefix", ""))
            if prefix:
                self.by_prefix[prefix] = stored.id

    async def start(self) -> None:
        """Listen for answers, for devices coming online, and to configured prefixes."""
        await self.link.subscribe(f"{self.src}/rpc", self._on_response)
        await self.link.subscribe("+/online", self._on_online)
        for prefix in {*self.config.shelly_prefixes, *self.by_prefix}:
            if "/" in prefix:
                await self.link.subscribe(f"{prefix}/online", self._on_online)
            await self._follow_events(prefix)

    # ----------------------------------------------------------------- RPC
    async def call(self, prefix: str, method: str, params: Mapping[str, Any] | None = None,
                   ) -> Any:
        """One JSON-RPC call; DeviceUnreachable when no answer comes in time."""
        request_id = next(self._ids)
        frame = {"id": request_id, "src": self.src, "method": method}
        if params is not None:
            frame["params"] = dict(params)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.link.publish(f"{prefix}/rpc", json.dumps(frame).encode())
            async with asyncio.timeout(self.config.request_timeout_s):
                return await future
        except TimeoutError:
            raise DeviceUnreachable(
                f"{prefix} did not answer {method} within {self.config.request_timeout_s:g} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def _on_response(self, message: Inbound) -> None:
        frame = parse_object(message.payload)
        kind, request_id = parse_frame(frame)
        future = self._pending.get(request_id) if kind == "response" else None
        if future is None or future.done():
            return  # late, or a QoS 1 duplicate of an answer already taken
        error = frame.get("error")
        if error is not None:
            text = error.get("message", error) if isinstance(error, Mapping) else error
            code = error.get("code", "?") if isinstance(error, Mapping) else "?"
            future.set_exception(RpcError(f"the device refused: {text} (code {code})"))
        else:
            future.set_result(frame.get("result"))

    # ----------------------------------------------------------------- inbound
    async def _on_online(self, message: Inbound) -> None:
        prefix = message.topic[: -len("/online")]
        text = message.payload.decode("utf-8", "replace").strip()
        if text not in ("true", "false"):
            if text:
                raise PayloadError(f'expected "true" or "false", got {text[:40]!r}')
            return
        known = prefix in self.by_prefix or prefix in self.config.shelly_prefixes
        if not known and not prefix.lower().startswith("shelly"):
            return  # some other device's online topic
        online = text == "true"
        self.online_flag[prefix] = online
        device_id = self.by_prefix.get(prefix)
        if device_id is not None and device_id in self.adopted:
            await self.set_online(device_id, self._reachable(device_id),
                                  "" if online else "the Shelly's will says it is offline")
        if online and (device_id is None or device_id not in self.devices):
            if prefix not in self._probing:
                self._probing.add(prefix)
                self.spawn(self._probe(prefix))
        elif online and device_id is not None:
            self.spawn(self._status(device_id, self.devices[device_id]))

    async def _probe(self, prefix: str) -> None:
        try:
            info = await self.call(prefix, "Shelly.GetDeviceInfo")
            status = await self.call(prefix, "Shelly.GetStatus")
            if not isinstance(info, Mapping) or not isinstance(status, Mapping):
                raise PayloadError("GetDeviceInfo/GetStatus did not answer with objects")
            device = map_device(prefix, info, status)
        except (DeviceUnreachable, CommandFailed, PayloadError) as err:
            _LOG.info("MQTT: %s looks like a Shelly but did not describe itself: %s",
                      prefix, err)
            return
        finally:
            self._probing.discard(prefix)
        device_id = self.device_id(device.id)
        self.devices[device_id] = device
        self.by_prefix[prefix] = device_id
        await self._follow_events(prefix)
        if await self.offer_or_add(self._offer(device_id, device),
                                   self._description(device_id, device),
                                   self._reachable(device_id)):
            await self._report(device_id, status)

    async def _follow_events(self, prefix: str) -> None:
        if prefix not in self._events:
            self._events.add(prefix)
            await self.link.subscribe(f"{prefix}/events/rpc",
                                      functools.partial(self._on_event, prefix))

    async def _on_event(self, prefix: str, message: Inbound) -> None:
        device_id = self.by_prefix.get(prefix)
        if device_id is None or device_id not in self.adopted or device_id not in self.devices:
            return
        frame = parse_object(message.payload)
        kind, method = parse_frame(frame)
        if kind != "notify" or method not in ("NotifyStatus", "NotifyFullStatus"):
            return  # NotifyEvent (button presses) is not state
        params = frame.get("params")
        if not isinstance(params, Mapping):
            raise PayloadError(f"{method} without a params object")
        await self._report(device_id, params)

    async def _report(self, device_id: str, status: Mapping[str, Any]) -> None:
        device = self.devices[device_id]
        values, problems = device.decode(status)
        if values and device_id in self.adopted:
            await self.hub.report(device_id, values)
        if problems:
            raise PayloadError(f"{device.id}: " + "; ".join(problems))

    async def _status(self, device_id: str, device: ShellyDevice) -> None:
        try:
            status = await self.call(device.prefix, "Shelly.GetStatus")
        except (DeviceUnreachable, CommandFailed) as err:
            _LOG.info("MQTT: %s did not send its status: %s", device.id, err)
            return
        if isinstance(status, Mapping):
            with contextlib.suppress(PayloadError):
                await self._report(device_id, status)

    # ----------------------------------------------------------------- helpers
    def _reachable(self, device_id: str) -> bool:
        device = self.devices.get(device_id)
        return (device is not None and self.link.connected
                and self.online_flag.get(device.prefix, False))

    def _offer(self, device_id: str, device: ShellyDevice) -> DiscoveredDevice:
        return DiscoveredDevice(
            key=device_id, integration=DOMAIN, name=device.name, address=device.prefix,
            model=f"Shelly {device.app or device.model}",
            properties={"family": self.name, "id": device.id, "mac": device.mac,
                        "gen": device.gen, "firmware": device.firmware,
                        "properties": [f.name for f in device.fields]},
        )

    def _description(self, device_id: str, device: ShellyDevice) -> DeviceDescription:
        return DeviceDescription(
            id=device_id, integration=DOMAIN, name=device.name,
            model=f"{device.app} ({device.model})" if device.app else device.model,
            manufacturer="Shelly", address=device.prefix,
            properties={f.name: f.spec for f in device.fields},
            extra={"family": self.name, "prefix": device.prefix, "shelly_id": device.id},
        )

    # ----------------------------------------------------------------- hub calls
    async def adopt(self, found: DiscoveredDevice) -> None:
        """Add an offered device and read its status."""
        device = self.devices.get(found.key)
        if device is None:
            raise CommandFailed(f"{found.name} is no longer online")
        self.adopted.add(found.key)
        await self.offer_or_add(found, self._description(found.key, device),
                                self._reachable(found.key))
        self.spawn(self._status(found.key, device))

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """One `<Component>.Set` call per component; NotifyStatus confirms the change."""
        device = self.devices.get(device_id)
        if device is None or not self._reachable(device_id):
            raise self.unreachable(device_id, "the Shelly is offline")
        try:
            calls = device.calls(changes)
        except PayloadError as err:
            raise CommandFailed(str(err)) from err
        try:
            for method, params in calls:
                await self.call(device.prefix, method, params)
        except BrokerUnavailable as err:
            raise self.unreachable(device_id, str(err)) from err
        except DeviceUnreachable as err:
            raise self.unreachable(device_id, str(err)) from err
