"""The B-route integration: the household smart meter through a Wi-SUN dongle.

Config section `[integrations.broute]`:
    port = "/dev/ttyUSB0"        # the dongle (a /dev/serial/by-id/... link survives replugging)
    secrets_file = "/var/lib/homehub/broute-secrets.toml"   # id and password, mode 0600;
                                 # default: <data dir>/integrations/broute/secrets.toml
    poll_interval_s = 30         # instantaneous power, currents and energy (one request)
    timeout_s = 6                # per ECHONET request over the radio
    retries = 1
    timezone = "Asia/Tokyo"      # the meter's clock, for the 30-minute readings
    retry_max_s = 60             # longest wait between attempts to open the dongle
    auth_retry_s = 600           # wait after the meter refused the ID/password

The ID and password never appear in this section (the hub refuses them here), in logs, in the
device's description or in API answers. The meter's PAN (channel, PAN ID, MAC) is remembered in
<data dir>/integrations/broute/pan.json so that restarts and re-joins skip the scan.

The meter becomes one device, `broute-<meter MAC>`: `power_w` (E7), `current_a.r`/`.t` (E8),
`energy_kwh` (E0 x D3 x E1), `energy_export_kwh` (E3, solar homes) and the 30-minute readings
`energy_kwh.fixed`/`energy_export_kwh.fixed` (EA/EB), reported with the meter's own time stamps
so history holds them at the half hour they belong to.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.model import DeviceDescription, HubPort, Integration, make_device_id, spec_for
from integrations.broute import credentials as creds
from integrations.broute import skstack as sk
from integrations.broute.session import BrouteSession, SessionConfig, SessionState
from integrations.echonet.controller import ObjectInfo, get, read_node
from integrations.echonet.frame import Eoj, Esv, Frame, FrameError
from integrations.echonet.mapping import FIXED_EPCS, METER, DeviceMapping, fixed_reading
from integrations.echonet.protocol import EchonetClient
from integrations.echonet.transport import FrameHandler
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError

_LOGGER = logging.getLogger(__name__)

DOMAIN = "broute"
FIXED_PERIOD_S = 1800
FIXED_SETTLE_S = 60  # meters publish the half-hour reading shortly after the boundary
OFFLINE_AFTER = 3  # unanswered polls before the meter is reported offline
_SECRET_KEYS = ("id", "password", "rbid")


@dataclass(frozen=True, slots=True)
class BrouteConfig:
    """The integration's settings (see the module docstring)."""

    port: str
    baudrate: int = 115200
    secrets_file: Path | None = None
    poll_interval_s: float = 30.0
    timeout_s: float = 6.0
    retries: int = 1
    timezone: str = "Asia/Tokyo"
    join_timeout_s: float = 30.0
    retry_min_s: float = 1.0
    retry_max_s: float = 60.0
    auth_retry_s: float = 600.0
    scan_durations: tuple[int, ...] = (4, 5, 6, 6)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> BrouteConfig:
        """Validate the section; IntegrationError names what to fix."""
        leaked = [k for k in _SECRET_KEYS if k in config]
        if leaked:
            raise IntegrationError(
                f"[integrations.broute] must not hold {' or '.join(leaked)}: homehub.toml is not "
                "private. Put id and password in the secrets file (mode 0600; see "
                "`secrets_file`) and remove them here"
            )
        port = config.get("port")
        if not isinstance(port, str) or not port:
            raise IntegrationError(
                '[integrations.broute] needs port = "/dev/ttyUSB0" (where the Wi-SUN dongle is; '
                "ls /dev/serial/by-id/)"
            )
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            _LOGGER.warning("ignoring unknown [integrations.broute] keys: %s; known: %s",
                            ", ".join(sorted(unknown)), ", ".join(sorted(known)))
        d = cls(port=port)
        try:
            secrets_file = config.get("secrets_file")
            out = cls(
                port=port,
                baudrate=int(config.get("baudrate", d.baudrate)),
                secrets_file=Path(secrets_file).expanduser() if secrets_file else None,
                poll_interval_s=float(config.get("poll_interval_s", d.poll_interval_s)),
                timeout_s=float(config.get("timeout_s", d.timeout_s)),
                retries=int(config.get("retries", d.retries)),
                timezone=str(config.get("timezone", d.timezone)),
                join_timeout_s=float(config.get("join_timeout_s", d.join_timeout_s)),
                retry_min_s=float(config.get("retry_min_s", d.retry_min_s)),
                retry_max_s=float(config.get("retry_max_s", d.retry_max_s)),
                auth_retry_s=float(config.get("auth_retry_s", d.auth_retry_s)),
                scan_durations=tuple(int(x) for x in config.get("scan_durations",
                                                                d.scan_durations)),
            )
        except (TypeError, ValueError) as err:
            raise IntegrationError(f"[integrations.broute] has a bad value: {err}") from err
        timings = (out.poll_interval_s, out.timeout_s, out.join_timeout_s, out.retry_min_s,
                   out.retry_max_s, out.auth_retry_s)
        if min(timings) <= 0 or out.retries < 0:
            raise IntegrationError("[integrations.broute] times must be positive, retries >= 0")
        if not out.scan_durations or not all(1 <= s <= 14 for s in out.scan_durations):
            raise IntegrationError("[integrations.broute] scan_durations are 1 to 14 each")
        try:
            zoneinfo.ZoneInfo(out.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise IntegrationError(
                f"[integrations.broute] timezone {out.timezone!r} is unknown: {err}"
            ) from err
        return out

    def session(self) -> SessionConfig:
        """The session's part of the settings."""
        return SessionConfig(
            port=self.port, baudrate=self.baudrate, scan_durations=self.scan_durations,
            join_timeout_s=self.join_timeout_s, retry_min_s=self.retry_min_s,
            retry_max_s=self.retry_max_s, auth_retry_s=self.auth_retry_s,
        )


def _pan_to_dict(pan: sk.PanDescription) -> dict[str, Any]:
    return {"channel": pan.channel, "channel_page": pan.channel_page, "pan_id": pan.pan_id,
            "addr": pan.addr, "lqi": pan.lqi}


def _pan_from_dict(data: Mapping[str, Any]) -> sk.PanDescription:
    return sk.PanDescription(int(data["channel"]), int(data["channel_page"]),
                             int(data["pan_id"]), sk.parse_mac(str(data["addr"])),
                             int(data.get("lqi", 0)))


class BrouteIntegration(Integration):
    """The smart meter on the Wi-SUN B-route (see the module docstring)."""

    domain = DOMAIN

    def __init__(self) -> None:
        self.config: BrouteConfig | None = None
        self._hub: HubPort | None = None
        self._client: EchonetClient | None = None
        self._session: BrouteSession | None = None
        self._pan_file: Path | None = None
        self._meter: ObjectInfo | None = None
        self._mapping: DeviceMapping | None = None
        self._device_id: str | None = None
        self._online = False
        self._failures = 0
        self._static: dict[int, bytes] = {}  # D3/E1 for the fixed readings
        self._fixed_boundary = 0.0
        self._fixed_reported: dict[int, float] = {}
        self._kick = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- accessors ----------------------------------------------------------------------------

    @property
    def session(self) -> BrouteSession:
        """The dongle session (state, reason, joins)."""
        if self._session is None:
            raise IntegrationError("the B-route integration is not set up")
        return self._session

    @property
    def client(self) -> EchonetClient:
        """The ECHONET controller riding on the session."""
        if self._client is None:
            raise IntegrationError("the B-route integration is not set up")
        return self._client

    @property
    def state(self) -> SessionState:
        """The session's state (STOPPED before setup)."""
        return self._session.state if self._session is not None else SessionState.STOPPED

    @property
    def device_id(self) -> str | None:
        """The meter's hub device id, once its PAN is known."""
        return self._device_id

    def status(self) -> dict[str, Any]:
        """What the session is doing, for people (no secrets)."""
        session = self.session
        pan = session.pan
        return {
            "port": session.config.port,
            "state": session.state.value,
            "reason": session.reason,
            "firmware": session.version,
            "joins": session.joins,
            "meter": None if pan is None else {
                "mac": pan.addr, "channel": pan.channel, "pan_id": f"{pan.pan_id:04X}",
                "rssi_dbm": pan.rssi_dbm,
            },
        }

    # --- lifecycle ----------------------------------------------------------------------------

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Read the config and the secrets file; start joining the meter in the background."""
        cfg = BrouteConfig.from_mapping(config)
        self.config = cfg
        self._hub = hub
        folder = hub.storage_dir(DOMAIN)
        secrets_path = cfg.secrets_file or folder / creds.SECRETS_FILE_NAME
        credentials = await asyncio.to_thread(creds.load, secrets_path)
        self._pan_file = folder / "pan.json"
        pan = await asyncio.to_thread(self._load_pan)
        for stored in hub.stored_devices(DOMAIN):
            await hub.set_available(stored.id, False, "joining the meter over Wi-SUN")

        def link(on_frame: FrameHandler) -> BrouteSession:
            self._session = BrouteSession(
                cfg.session(), credentials, on_frame, pan=pan,
                on_pan=self._on_pan, on_state=self._on_state,
            )
            return self._session

        self._client = EchonetClient(
            timeout_s=cfg.timeout_s, retries=cfg.retries, on_notify=self._on_notify, link=link,
        )
        await self._client.start()
        self._worker = asyncio.create_task(self._work(), name="broute-meter")

    async def shutdown(self) -> None:
        """Stop polling and release the dongle."""
        tasks = [t for t in (self._worker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None
        if self._client is not None:
            await self._client.close()

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """A meter has nothing to set."""
        raise CommandFailed("the smart meter's readings are read-only")

    # --- session callbacks ----------------------------------------------------------------------

    def _on_state(self, state: SessionState, reason: str) -> None:
        if state is SessionState.JOINED:
            self._failures = 0
            self._kick.set()  # read at once: after a re-join nobody should wait a poll interval
            return
        # Offline until a reading arrives again. A meter first seen in trouble (wrong password,
        # dongle gone) is registered now, so that the reason shows where people look.
        self._spawn(self._offline(reason or state.value, register=state in _TROUBLE))

    def _on_pan(self, pan: sk.PanDescription | None) -> None:
        self._spawn(asyncio.to_thread(self._save_pan, pan))
        if pan is not None:
            self._device_id = make_device_id(DOMAIN, pan.addr.lower())

    async def _offline(self, reason: str, *, register: bool) -> None:
        hub, pan = self._hub, self.session.pan
        if hub is None or pan is None:
            return
        self._device_id = make_device_id(DOMAIN, pan.addr.lower())
        if hub.device(self._device_id) is None:
            if not register:
                return
            mapping = DeviceMapping.for_object(METER, frozenset({0xE7, 0xE0, 0xD3, 0xE1}),
                                               frozenset())
            await hub.add_device(self._description(pan, mapping, None, ""))
        await self._set_online(False, reason)

    def _load_pan(self) -> sk.PanDescription | None:
        assert self._pan_file is not None
        try:
            return _pan_from_dict(json.loads(self._pan_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("ignoring %s (%s); the dongle will scan for the meter",
                            self._pan_file, err)
            return None

    def _save_pan(self, pan: sk.PanDescription | None) -> None:
        assert self._pan_file is not None
        if pan is None:
            with contextlib.suppress(FileNotFoundError):
                self._pan_file.unlink()
            return
        self._pan_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._pan_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(_pan_to_dict(pan)), encoding="utf-8")
        tmp.replace(self._pan_file)

    def _description(self, pan: sk.PanDescription, mapping: DeviceMapping, eoj: Eoj | None,
                     maker: str) -> DeviceDescription:
        props = mapping.properties()
        for epc, name in FIXED_EPCS.items():
            if epc in mapping.get_map:
                props[name] = spec_for(name)
        extra: dict[str, Any] = {"mac": pan.addr, "port": self.session.config.port}
        if eoj is not None:
            extra["eoj"] = str(eoj)
        return DeviceDescription(
            id=make_device_id(DOMAIN, pan.addr.lower()),
            integration=DOMAIN,
            name="Smart meter",
            model=f"{mapping.model} (Wi-SUN B-route)",
            manufacturer=f"ECHONET maker {maker}" if maker else "",
            address=sk.link_local(pan.addr),
            properties=props,
            extra=extra,
        )

    async def _set_online(self, online: bool, reason: str = "") -> None:
        if self._hub is None or self._device_id is None:
            return
        self._online = online
        await self._hub.set_available(self._device_id, online, reason)  # the hub dedups

    # --- reading the meter ----------------------------------------------------------------------

    async def _work(self) -> None:
        session = self.session
        assert self.config is not None
        while True:
            if session.state is not SessionState.JOINED:
                await session.wait_for(SessionState.JOINED, timeout_s=float("inf"))
            self._kick.clear()
            try:
                if self._meter is None:
                    await self._read_meter()
                await self.poll_once()
            except DeviceUnreachable as err:
                self._failures += 1
                if self._failures >= OFFLINE_AFTER and session.state is SessionState.JOINED:
                    await self._set_online(False, f"the meter stopped answering: {err}")
            except (FrameError, IntegrationError) as err:
                _LOGGER.warning("b-route: reading the meter failed, retrying: %s", err)
            # Back off when the meter is silent: the radio is slow and shared with its own work.
            wait = self.config.poll_interval_s * min(8, 2 ** min(self._failures, 3))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._kick.wait()

    async def _read_meter(self) -> None:
        session = self.session
        address = session.meter_address
        pan = session.pan
        if address is None or pan is None:
            raise DeviceUnreachable("the meter's address is not known yet")
        info = await read_node(self.client, address)
        meters = [o for o in info.objects if o.eoj.class_code == METER]
        if not meters:
            raise IntegrationError(
                f"the node at {address} has no smart meter object (it lists "
                f"{', '.join(str(o.eoj) for o in info.objects) or 'nothing'})"
            )
        self._meter = meters[0]
        self._mapping = self._meter.mapping
        self._device_id = make_device_id(DOMAIN, pan.addr.lower())
        assert self._hub is not None
        await self._hub.add_device(
            self._description(pan, self._mapping, self._meter.eoj, self._meter.maker or info.maker)
        )

    async def poll_once(self) -> None:
        """One request for power, currents and energy; the 30-minute readings when due."""
        meter, mapping, session = self._meter, self._mapping, self.session
        if meter is None or mapping is None or session.meter_address is None:
            raise DeviceUnreachable("the meter has not been read yet")
        values = await get(self.client, session.meter_address, meter.eoj, mapping.poll_epcs())
        self._failures = 0
        self._static.update({k: v for k, v in values.items() if k in (0xD3, 0xE1)})
        await self._set_online(True)
        decoded = mapping.decode(values)
        if decoded and self._hub is not None and self._device_id is not None:
            await self._hub.report(self._device_id, decoded)
        await self._fixed_if_due(meter)

    async def _fixed_if_due(self, meter: ObjectInfo) -> None:
        now = dt.datetime.now(dt.UTC).timestamp()
        boundary = (now - FIXED_SETTLE_S) // FIXED_PERIOD_S * FIXED_PERIOD_S
        wanted = [epc for epc in FIXED_EPCS if epc in meter.get_map]
        if not wanted or boundary <= self._fixed_boundary:
            return
        address = self.session.meter_address
        assert address is not None
        values = await get(self.client, address, meter.eoj, wanted)
        self._fixed_boundary = boundary
        await self._report_fixed(values)

    async def _report_fixed(self, values: Mapping[int, bytes]) -> None:
        if self._hub is None or self._device_id is None or self.config is None:
            return
        zone = zoneinfo.ZoneInfo(self.config.timezone)
        merged = {**self._static, **values}
        for epc, name in FIXED_EPCS.items():
            reading = fixed_reading(merged, epc)
            if reading is None:
                continue
            (year, month, day, hour, minute, second), kwh = reading
            try:
                ts = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()
            except ValueError:
                continue  # a date the meter's clock cannot mean
            if ts <= self._fixed_reported.get(epc, 0.0):
                continue
            self._fixed_reported[epc] = ts
            await self._hub.report(self._device_id, {name: kwh}, timestamp=ts)

    def _on_notify(self, frame: Frame, host: str) -> None:
        """Meters announce E7 changes and the half-hour readings (EA/EB) by INF."""
        if frame.esv not in (Esv.INF, Esv.INFC) or frame.seoj.class_code != METER:
            return
        values = frame.values()
        if self._mapping is not None and self._hub is not None and self._device_id is not None:
            decoded = self._mapping.decode(values)
            if decoded:
                self._spawn(self._hub.report(self._device_id, decoded))
        if any(epc in values for epc in FIXED_EPCS):
            self._spawn(self._report_fixed(values))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("b-route background work failed", exc_info=task.exception())


_TROUBLE = frozenset({SessionState.AUTH_FAILED, SessionState.NO_DONGLE, SessionState.NO_METER,
                      SessionState.ERROR})
