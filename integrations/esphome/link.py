"""One ESPHome device connection: aioesphomeapi's client and reconnect logic, feeding the hub."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aioesphomeapi import (
    ClimateMode,
    ClimateState,
    ConnectionClosedEvent,
    EntityState,
    InfraredRFReceiveEvent,
)
from aioesphomeapi.client import APIClient
from aioesphomeapi.core import (
    APIConnectionError,
    EncryptionPlaintextAPIError,
    InvalidAuthAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)
from aioesphomeapi.reconnect_logic import ReconnectLogic

from hub.model import IR_LEARN, IR_SEND, DeviceDescription, HubPort, make_device_id
from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.esphome.config import DeviceConfig
from integrations.esphome.infrared import (
    IrEntity,
    Transmission,
    capability_summary,
    ir_entities,
)
from integrations.esphome.mapping import Command, EntityMap, build_entity_map
from integrations.esphome.messages import pb

_LOGGER = logging.getLogger(__name__)

DOMAIN = "esphome"
# Errors that another attempt with the same settings cannot fix.
AUTH_ERRORS: tuple[type[Exception], ...] = (
    InvalidEncryptionKeyAPIError,
    InvalidAuthAPIError,
    RequiresEncryptionAPIError,
    EncryptionPlaintextAPIError,
)


def explain(err: Exception) -> str:
    """A message a person can act on."""
    if isinstance(err, InvalidEncryptionKeyAPIError):
        return "the device rejected the encryption key: set noise_psk to its api encryption key"
    if isinstance(err, RequiresEncryptionAPIError):
        return "the device requires encryption: set noise_psk to its api encryption key"
    if isinstance(err, EncryptionPlaintextAPIError):
        return "the device does not use encryption: remove noise_psk from its settings"
    if isinstance(err, InvalidAuthAPIError):
        return "the device rejected the API password: check its password setting"
    return f"cannot reach the ESPHome device ({err}); it is retried automatically"


class LinkState(enum.Enum):
    """Where a device connection is."""

    STOPPED = enum.auto()  # not started, or shut down
    CONNECTING = enum.auto()  # the reconnect logic is trying
    CONNECTED = enum.auto()  # entities known, states subscribed
    FAILED = enum.auto()  # the last attempt failed; the reconnect logic retries with backoff


# The node confirms a frame once it has left the transmitter (API >= 1.18); allow this much
# beyond the frame's air time before calling the transmit failed.
IR_CONFIRM_MARGIN_S = 10.0
_IR_COMPLETE_API = (1, 18)
ProgressCallback = Callable[[float, float], None]  # (elapsed_s, remaining_s)


def device_id_for(mac: str) -> str:
    """The hub device id of an ESPHome node, from its MAC (any separators, any case)."""
    return make_device_id(DOMAIN, mac.replace(":", "").replace("-", "").lower())


class DeviceLink:
    """Keeps one device connected and translates between its entities and the hub."""

    def __init__(
        self, cfg: DeviceConfig, hub: HubPort, *, client_info: str, keepalive: float
    ) -> None:
        self.cfg = cfg
        self._hub = hub
        self.state = LinkState.STOPPED
        self.device_id: str | None = device_id_for(cfg.mac) if cfg.mac else None
        self.entity_map: EntityMap | None = None
        self.last_error: Exception | None = None
        self._online: bool | None = None
        self._last_modes: dict[int, ClimateMode] = {}
        self._reports: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self._reporter: asyncio.Task[None] | None = None
        self._first: asyncio.Future[Exception | None] | None = None
        self.infrared: tuple[IrEntity, ...] = ()
        # called after every availability change (IR devices follow their node)
        self.availability_listeners: list[Callable[[DeviceLink], Awaitable[None]]] = []
        self._ir_lock = asyncio.Lock()
        self._client = APIClient(
            cfg.host,
            cfg.port,
            cfg.password,
            client_info=client_info,
            keepalive=keepalive,
            noise_psk=cfg.noise_psk,
            expected_name=cfg.name,
        )
        self._logic = ReconnectLogic(
            client=self._client,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_connect_error=self._on_connect_error,
            name=cfg.name,
            zeroconf_wake=False,  # the hub's own discovery service follows the device
        )
        self._close_error: Exception | None = None
        self._client.add_connection_closed_callback(self._on_closed)

    @property
    def address(self) -> str:
        """host:port."""
        return f"{self.cfg.host}:{self.cfg.port}"

    async def start(self) -> None:
        """Start connecting (and keep reconnecting) in the background."""
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._reporter = asyncio.create_task(self._report_loop(), name=f"esphome {self.address}")
        self.state = LinkState.CONNECTING
        await self._logic.start()

    async def first_result(self, timeout: float) -> Exception | None:
        """None once connected; the error if the first attempt failed; TimeoutError if neither."""
        assert self._first is not None, "start() first"
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._first)

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        self.state = LinkState.STOPPED
        await self._logic.stop()
        with contextlib.suppress(APIConnectionError):
            await self._client.disconnect(force=True)
        if self._reporter is not None:
            self._reporter.cancel()
            await asyncio.gather(self._reporter, return_exceptions=True)
            self._reporter = None

    # -- callbacks of the reconnect logic -------------------------------------------------
    async def _on_connect(self) -> None:
        try:
            info = await self._client.device_info()
            entities, _services = await self._client.list_entities_services()
        except APIConnectionError as err:
            _LOGGER.info("%s: lost the connection while reading entities: %s", self.address, err)
            self.last_error = err
            await self._client.disconnect(force=True)
            return
        self.infrared = ir_entities(entities)
        ir_keys = {e.key for e in self.infrared}
        emap = build_entity_map(e for e in entities if e.key not in ir_keys)
        if emap.unmapped:
            _LOGGER.info("%s: entities without a hub property: %s", self.address,
                         ", ".join(emap.unmapped))
        device_id = device_id_for(info.mac_address) if info.mac_address else self.device_id
        if device_id is None:
            device_id = make_device_id(DOMAIN, info.name or self.cfg.host)
        self.device_id = device_id
        self.entity_map = emap
        extra: dict[str, Any] = {
            # Never the key or password: descriptions reach the API and the relay.
            **self.cfg.public_dict(), "mac": info.mac_address.replace(":", "").lower()
        }
        capabilities: tuple[str, ...] = ()
        if self.infrared:
            extra["ir_blaster"] = summary = capability_summary(self.infrared)
            capabilities = tuple(
                c for c, on in ((IR_SEND, summary["transmit"]), (IR_LEARN, summary["receive"]))
                if on
            )
        try:
            await self._hub.add_device(DeviceDescription(
                id=device_id,
                integration=DOMAIN,
                name=info.friendly_name or info.name,
                model=info.model or "ESPHome",
                manufacturer=info.manufacturer or "ESPHome",
                address=self.address,
                suggested_room=info.suggested_area or None,
                properties=emap.specs,
                capabilities=capabilities,
                extra=extra,
            ))
        except Exception:  # the hub's trouble: drop this session, the reconnect logic retries
            _LOGGER.exception("%s: the hub refused the device description", self.address)
            await self._client.disconnect(force=True)
            return
        self.state = LinkState.CONNECTED
        self.last_error = None
        await self._set_online(True)
        self._client.subscribe_states(self._on_state)
        if self._first is not None and not self._first.done():
            self._first.set_result(None)

    def _on_closed(self, event: ConnectionClosedEvent) -> None:
        self._close_error = event.error

    async def _on_disconnect(self, expected_disconnect: bool) -> None:
        if self.state is LinkState.STOPPED:
            return
        err, self._close_error = self._close_error, None
        if isinstance(err, InvalidAuthAPIError):
            # the password is checked after the hello, so the connect itself "succeeds":
            # stop here instead of reconnecting in a tight loop with the same wrong password
            self.state = LinkState.FAILED
            self.last_error = err
            self._logic.stop_callback()
            await self._set_online(False, explain(err))
            if self._first is not None and not self._first.done():
                self._first.set_result(err)
            return
        self.state = LinkState.CONNECTING
        reason = "disconnected by the device" if expected_disconnect else "connection lost"
        await self._set_online(False, reason)

    async def _on_connect_error(self, err: Exception) -> None:
        self.last_error = err
        if self.state is not LinkState.STOPPED:
            self.state = LinkState.FAILED
        await self._set_online(False, explain(err))
        if self._first is not None and not self._first.done():
            self._first.set_result(err)

    async def _set_online(self, online: bool, reason: str = "") -> None:
        if self.device_id is None or self._online is online:
            return
        self._online = online
        try:
            await self._hub.set_available(self.device_id, online, reason)
        except Exception:  # the hub's trouble must not kill this device's connection
            _LOGGER.exception("%s: hub refused an availability change", self.address)
        for listener in list(self.availability_listeners):
            try:
                await listener(self)
            except Exception:  # one listener's trouble must not stop the others
                _LOGGER.exception("%s: availability listener failed", self.address)

    # -- states ---------------------------------------------------------------------------
    def _on_state(self, state: EntityState) -> None:
        emap = self.entity_map
        if emap is None:
            return
        if isinstance(state, ClimateState) and state.mode not in (None, ClimateMode.OFF):
            self._last_modes[state.key] = ClimateMode(state.mode)
        if values := emap.values_for(state):
            self._reports.put_nowait(values)

    async def _report_loop(self) -> None:
        # one consumer keeps the reports in the order the device sent them
        while True:
            values = await self._reports.get()
            if self.device_id is None:
                continue
            try:
                await self._hub.report(self.device_id, values)
            except Exception:  # keep streaming even if one report is refused
                _LOGGER.exception("%s: hub refused a report %r", self.address, values)

    # -- commands -------------------------------------------------------------------------
    async def apply(self, changes: Mapping[str, Any]) -> None:
        """Send desired values; CommandFailed if they cannot apply, DeviceUnreachable if offline."""
        emap = self.entity_map
        if self.state is not LinkState.CONNECTED or emap is None:
            raise DeviceUnreachable(
                f"ESPHome device at {self.address} is offline; the change is sent when it returns"
            )
        commands = emap.commands_for(changes, self._last_modes)
        try:
            for cmd in commands:
                self._send(cmd)
        except APIConnectionError as err:
            raise DeviceUnreachable(f"ESPHome device at {self.address}: {err}") from err

    def _send(self, cmd: Command) -> None:
        c = self._client
        if cmd.kind == "switch":
            c.switch_command(cmd.key, cmd.args["state"])
        elif cmd.kind == "light":
            c.light_command(cmd.key, **cmd.args)
        elif cmd.kind == "fan":
            c.fan_command(cmd.key, **cmd.args)
        elif cmd.kind == "climate":
            c.climate_command(cmd.key, **cmd.args)
        else:
            raise CommandFailed(f"ESPHome {cmd.kind} entities take no commands")

    # -- infrared -------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while entities are known and states flow."""
        return self.state is LinkState.CONNECTED

    def _ir_entity(self, receiver: bool) -> IrEntity:
        if not self.connected:
            raise DeviceUnreachable(
                f"ESPHome device at {self.address} is offline; check that it is powered and on "
                "this network"
            )
        for entity in self.infrared:
            if entity.receives if receiver else entity.transmits:
                return entity
        what = "receiver" if receiver else "transmitter"
        raise CommandFailed(
            f"ESPHome device at {self.address} has no IR {what}; add an `infrared:` entity with "
            f"a {what} to its YAML"
        )

    async def transmit_ir(self, tx: Transmission) -> None:
        """Send one frame on the node's IR transmitter and wait until the node confirms it."""
        entity = self._ir_entity(receiver=False)
        async with self._ir_lock:  # one frame at a time, so a confirmation names its frame
            loop = asyncio.get_running_loop()
            done: asyncio.Future[bool] = loop.create_future()

            def on_complete(msg: Any) -> None:
                if msg.key == entity.key and not done.done():
                    done.set_result(bool(msg.success))

            version = self._client.api_version
            confirms = version is None or (version.major, version.minor) >= _IR_COMPLETE_API
            try:
                remove = None
                if confirms:
                    # aioesphomeapi paces frames on the completion reply but does not hand its
                    # outcome to callers, so listen for it on the connection as well
                    remove = self._client._get_connection().add_message_callback(
                        on_complete, (pb.InfraredRFTransmitCompleteResponse,)
                    )
                self._client.infrared_rf_transmit_raw_timings(
                    entity.key, tx.carrier_hz, list(tx.timings), repeat_count=tx.repeat_count
                )
            except APIConnectionError as err:
                raise DeviceUnreachable(f"ESPHome device at {self.address}: {err}") from err
            if remove is None:
                return  # firmware before API 1.18 never says whether a frame went out
            wait_s = tx.air_time_s + IR_CONFIRM_MARGIN_S
            try:
                async with asyncio.timeout(wait_s):
                    ok = await done
            except TimeoutError:
                raise CommandFailed(
                    f"ESPHome device at {self.address} did not confirm the IR transmit within "
                    f"{wait_s:.0f} s; check the node's logs and try again"
                ) from None
            finally:
                remove()
            if not ok:
                raise CommandFailed(
                    f"ESPHome device at {self.address} reported that its IR transmitter "
                    f"({entity.name}) failed to send; check the transmitter's pin and wiring in "
                    "the node's YAML and logs"
                )

    async def receive_ir(
        self, timeout_s: float, progress: ProgressCallback | None = None
    ) -> tuple[list[int], int]:
        """Wait for the node's IR receiver to capture a frame: (signed timings, carrier Hz)."""
        entity = self._ir_entity(receiver=True)
        keys = {e.key: e for e in self.infrared if e.receives}
        loop = asyncio.get_running_loop()
        got: asyncio.Future[tuple[list[int], int]] = loop.create_future()

        def on_receive(event: InfraredRFReceiveEvent) -> None:
            src = keys.get(event.key)
            if src is not None and event.timings and not got.done():
                got.set_result((list(event.timings), src.receiver_frequency))

        try:
            unsubscribe = self._client.subscribe_infrared_rf_receive(on_receive)
        except APIConnectionError as err:
            raise DeviceUnreachable(f"ESPHome device at {self.address}: {err}") from err
        start = time.monotonic()
        try:
            while True:
                elapsed = time.monotonic() - start
                if progress is not None:
                    progress(elapsed, max(0.0, timeout_s - elapsed))
                remaining = timeout_s - elapsed
                if got.done():
                    return got.result()
                if remaining <= 0:
                    raise CommandFailed(
                        f"Learning timed out: {entity.name} on the ESPHome device at "
                        f"{self.address} received no IR code within {timeout_s:g} s; point the "
                        "remote at its receiver from close by, press the button, and try again"
                    )
                if not self.connected:
                    raise DeviceUnreachable(
                        f"ESPHome device at {self.address} went offline while learning"
                    )
                await asyncio.wait({got}, timeout=min(0.25, remaining))
        finally:
            unsubscribe()
