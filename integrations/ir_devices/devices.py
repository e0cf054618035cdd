"""IR devices: a blaster plus a profile, with the state we last sent assumed to be the state.

Shared by every kind of blaster (Broadlink RM, ESPHome nodes with an infrared transmitter).
An integration hands `IrDevices` its configured devices and a way to find the `Blaster` of each;
`IrDevices` resolves profiles, registers the devices with the hub, turns desired values and named
commands into codes (A/C states through the ir_codes encoders) and keeps learned codes and the
assumed state in an `IrStore`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hub.model import DeviceDescription, HubPort, PropertySpec, make_device_id, spec_for
from integrations.errors import CommandFailed
from integrations.ir_devices import codes as pk
from integrations.ir_devices.profiles import IrProfile, ProfileError, encode_ac, load_profile
from integrations.ir_devices.store import IrStore

_LOG = logging.getLogger(__name__)

# Sent when nothing is known yet: changing the set point of an AC in an unknown state most
# likely means "run at this set point", so power defaults to on.
DEFAULT_AC_STATE: Mapping[str, Any] = {
    "power": True,
    "mode": "cool",
    "target_temperature": 26.0,
    "fan_speed": "auto",
    "swing": "off",
}
AC_KEYS = tuple(DEFAULT_AC_STATE)


class Blaster(Protocol):
    """Something that transmits IR codes (Broadlink IR packets, the uniform code form)."""

    async def send(self, code: bytes) -> None:
        """Transmit one code; CommandFailed or DeviceUnreachable with a reason otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class IrDeviceConfig:
    """One configured IR device: a name, the blaster that sends for it and its profile."""

    id: str
    name: str
    blaster: str
    profile: str | Mapping[str, Any]
    room: str | None = None


def parse_device_config(
    entry: Mapping[str, Any], domain: str, blaster: str | None = None
) -> IrDeviceConfig:
    """One `devices`/`ir_devices` entry; `blaster` fixes the blaster (ESPHome: the node itself).

    Raises ValueError/KeyError naming what is missing (callers wrap them in their config error).
    """
    name = str(entry["name"])
    ref = blaster if blaster is not None else entry.get("blaster")
    if ref is None or "profile" not in entry:
        needs = "'profile'" if blaster is not None else "both 'blaster' (MAC or host) and 'profile'"
        raise ValueError(f"IR device {name!r} needs {needs}")
    return IrDeviceConfig(
        id=str(entry.get("id") or make_device_id(domain, "ir", name.lower())),
        name=name,
        blaster=str(ref),
        profile=entry["profile"],
        room=entry.get("room"),
    )


@dataclass
class IrDevice:
    """A configured IR device with its resolved profile and assumed state."""

    config: IrDeviceConfig
    profile: IrProfile
    state: dict[str, Any] = field(default_factory=dict)  # what we last sent (assumed)


def ir_properties(profile: IrProfile) -> dict[str, PropertySpec]:
    """The hub properties an IR device with this profile offers."""
    props = {"ir_commands": spec_for("ir_commands")}
    ac = profile.ac
    if ac is not None:
        props["power"] = spec_for("power")
        props["mode"] = spec_for("mode", choices=ac.modes)
        props["target_temperature"] = spec_for(
            "target_temperature", minimum=ac.min_temperature, maximum=ac.max_temperature,
            step=1.0,
        )
        props["fan_speed"] = spec_for("fan_speed", choices=ac.fan_speeds)
        props["swing"] = spec_for("swing", choices=ac.swings)
    elif profile.has_power:
        props["power"] = spec_for("power")
    return props


# (online, reason) of an IR device, from the state of its blaster
Availability = Callable[[IrDeviceConfig], tuple[bool, str]]


class IrDevices:
    """The IR devices of one integration, whatever blasters send for them."""

    def __init__(
        self,
        domain: str,
        blaster_for: Callable[[IrDeviceConfig], Blaster],
        availability: Availability,
        *,
        address_for: Callable[[IrDeviceConfig], str | None] | None = None,
    ) -> None:
        self._domain = domain
        self._blaster_for = blaster_for
        self._availability = availability
        self._address_for = address_for or (lambda cfg: cfg.blaster)
        self._hub: HubPort | None = None
        self._devices: dict[str, IrDevice] = {}
        self.store = IrStore()

    # --- set-up -------------------------------------------------------------------------------

    async def setup(
        self,
        hub: HubPort,
        configs: Sequence[IrDeviceConfig],
        store_path: Path | None,
        profile_dirs: Sequence[Path] = (),
    ) -> None:
        """Load the store, resolve each profile (bad ones are skipped with a log line), register."""
        self._hub = hub
        self.store = await IrStore.load(store_path)
        for cfg in configs:
            try:
                # code set files are read from disk: not on the event loop
                profile = await asyncio.to_thread(load_profile, cfg.profile, profile_dirs)
            except ProfileError as err:
                _LOG.error("IR device %s skipped: %s", cfg.name, err)
                continue
            for command, hex_code in self.store.commands.get(cfg.id, {}).items():
                profile = profile.with_command(command, bytes.fromhex(hex_code))
            props = ir_properties(profile)
            assumed = {k: v for k, v in self.store.assumed.get(cfg.id, {}).items() if k in props}
            self._devices[cfg.id] = IrDevice(cfg, profile, assumed)
            await self.register(cfg.id)
            if assumed:
                await self._report(cfg.id, assumed)

    # --- lookups ------------------------------------------------------------------------------

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __iter__(self) -> Iterator[IrDevice]:
        return iter(list(self._devices.values()))

    def get(self, device_id: str) -> IrDevice:
        """An IR device by hub id; CommandFailed naming the known ones otherwise."""
        dev = self._devices.get(device_id)
        if dev is None:
            known = ", ".join(sorted(self._devices)) or "none configured"
            raise CommandFailed(f"no IR device {device_id!r}; known: {known}")
        return dev

    def remove(self, device_id: str) -> None:
        """Forget a device the user removed (configured ones come back on the next start)."""
        self._devices.pop(device_id, None)

    # --- hub calls ----------------------------------------------------------------------------

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send the IR frame(s) for desired values and report them as the assumed state."""
        dev = self.get(device_id)
        profile = dev.profile
        if profile.ac is not None:
            state = {**DEFAULT_AC_STATE, **profile.ac.defaults, **dev.state, **changes}
            code = encode_ac(profile.ac, {k: state[k] for k in AC_KEYS})
            await self._send(dev, code)
            await self._assume(dev, {k: state[k] for k in AC_KEYS})
            return
        unknown = set(changes) - {"power"}
        if unknown:
            raise CommandFailed(
                f"{dev.config.name} cannot set {', '.join(sorted(unknown))} by IR; use its "
                f"named commands: {', '.join(sorted(profile.commands))}"
            )
        if "power" in changes:
            await self._set_power(dev, bool(changes["power"]))

    async def send_command(
        self, device_id: str, command: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Send one named IR code; commands that imply power update the assumed state."""
        dev = self.get(device_id)
        code = dev.profile.commands.get(command)
        if code is None:
            known = ", ".join(sorted(dev.profile.commands)) or "none yet (learn some)"
            raise CommandFailed(f"{dev.config.name} has no command {command!r}; known: {known}")
        repeat = (params or {}).get("repeat", 0)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= 255:
            raise CommandFailed(f"repeat must be a whole number from 0 to 255, got {repeat!r}")
        if repeat:
            code = code[:1] + bytes([repeat]) + code[2:]
        await self._send(dev, code)
        p = dev.profile
        if command in (p.power_on, p.power_off):
            await self._assume(dev, {"power": command == p.power_on})
        elif command == p.power_toggle and "power" in dev.state:
            await self._assume(dev, {"power": not dev.state["power"]})

    async def save_learned(self, device_id: str, command: str, code: bytes) -> None:
        """Add (or replace) a named code on an IR device; persisted in the store."""
        dev = self.get(device_id)
        if not command or not command.replace("_", "").isalnum():
            raise CommandFailed(f"{command!r} is not a command name; use letters, digits and _")
        try:
            trimmed = pk.trim_code(code)
        except pk.PacketError as err:
            raise CommandFailed(f"not a Broadlink code packet: {err.reason}") from err
        dev.profile = dev.profile.with_command(command, trimmed)
        self.store.commands.setdefault(device_id, {})[command] = trimmed.hex()
        await self.store.save()
        await self.register(device_id)

    async def export_profile(self, device_id: str, name: str, folder: Path) -> Path:
        """Save an IR device's codes (learned ones included) as an ir_codes code set file.

        Other IR devices can then use it by `name`. Codes that decode to a known protocol are
        stored as protocol codes.
        """
        from ir_codes import IrCodesError
        from ir_codes.codesets import Profile

        dev = self.get(device_id)
        p = dev.profile
        ac = {"brand": p.ac.brand} if p.ac else {}
        power = {k: v for k, v in (("on", p.power_on), ("off", p.power_off),
                                   ("toggle", p.power_toggle)) if v}  # fmt: skip
        try:
            code_set = Profile(name, p.kind, f"exported from {dev.config.name}", power=power, ac=ac)
            for command, code in sorted(p.commands.items()):
                code_set.add_command(command, code)
            code_set.validate()
            return await asyncio.to_thread(code_set.save, folder)
        except (IrCodesError, OSError) as err:
            raise CommandFailed(f"cannot save profile {name!r} in {folder}: {err}") from err

    # --- registration and availability --------------------------------------------------------

    async def register(self, device_id: str) -> None:
        """(Re)describe an IR device to the hub, with its commands and availability."""
        dev = self._devices[device_id]
        cfg, profile = dev.config, dev.profile
        assert self._hub is not None, "setup() first"
        await self._hub.add_device(
            DeviceDescription(
                id=cfg.id,
                integration=self._domain,
                name=cfg.name,
                model=f"IR {profile.kind} ({profile.name})",
                manufacturer=profile.ac.brand if profile.ac else "",
                address=self._address_for(cfg),
                suggested_room=cfg.room,
                assumed_state=True,
                properties=ir_properties(profile),
                extra={"blaster": cfg.blaster, "kind": profile.kind},
            )
        )
        await self._hub.report(device_id, {"ir_commands": sorted(profile.commands)})
        online, reason = self._availability(cfg)
        await self._hub.set_available(device_id, online, reason)

    async def set_available(
        self, uses_blaster: Callable[[IrDeviceConfig], bool], online: bool, reason: str = ""
    ) -> None:
        """Mark every IR device whose blaster matches as (un)reachable."""
        if self._hub is None:
            return
        for dev in self:
            if uses_blaster(dev.config):
                await self._hub.set_available(dev.config.id, online, reason)

    # --- internals ----------------------------------------------------------------------------

    async def _send(self, dev: IrDevice, code: bytes) -> None:
        await self._blaster_for(dev.config).send(code)

    async def _set_power(self, dev: IrDevice, on: bool) -> None:
        p = dev.profile
        target = p.power_on if on else p.power_off
        if target is not None:
            await self._send(dev, p.commands[target])
        elif p.power_toggle is not None:
            if dev.state.get("power") == on:
                pass  # already (assumed) there: a toggle would turn it the wrong way
            else:
                await self._send(dev, p.commands[p.power_toggle])
        else:
            raise CommandFailed(f"{dev.config.name}'s profile has no power codes")
        await self._assume(dev, {"power": on})

    async def _assume(self, dev: IrDevice, values: Mapping[str, Any]) -> None:
        """Record what was just sent as the device's state, report it and keep it."""
        dev.state.update(values)
        self.store.assumed[dev.config.id] = dict(dev.state)
        await self.store.save()
        await self._report(dev.config.id, values)

    async def _report(self, device_id: str, values: Mapping[str, Any]) -> None:
        if self._hub is not None:
            await self._hub.report(device_id, values)
