"""The shared IR device logic, above the `Blaster` seam: what is sent for desired values and
named commands, the assumed state, learned codes and what survives a restart.

The blaster here keeps the codes it is given (the Broadlink and ESPHome suites drive the same
code through real blasters); every code is checked by decoding it with ir_codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import ir_codes
from hub.model import DeviceDescription, DiscoveredDevice
from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.ir_devices import IrDeviceConfig, IrDevices, parse_device_config
from integrations.ir_devices.codes import PacketError, trim_code
from ir_codes.formats import broadlink as bl_format

TV = {
    "kind": "tv",
    "commands": {"power": {"protocol": "NEC", "address": 4, "command": 8},
                 "mute": {"protocol": "NEC", "address": 4, "command": 13}},
    "power": {"toggle": "power"},
}
LIGHT = {
    "kind": "light",
    "commands": {"power_on": {"protocol": "NEC", "address": 16, "command": 1},
                 "power_off": {"protocol": "NEC", "address": 16, "command": 2}},
}
AC = {"kind": "ac", "brand": "daikin"}


class Hub:
    """The HubPort calls IR devices make, remembered."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.online: dict[str, tuple[bool, str]] = {}

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(
        self, device_id: str, values: Mapping[str, Any], *, timestamp: float | None = None
    ) -> None:
        for key, value in values.items():
            self.devices[device_id].properties[key].validate(value)
        self.reported.setdefault(device_id, {}).update(values)

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        self.online[device_id] = (online, reason)

    async def discovered(self, found: DiscoveredDevice) -> None:
        raise AssertionError("IR devices discover nothing")

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return []

    def storage_dir(self, integration: str) -> Path:
        raise AssertionError("the store path is given")


class KeepingBlaster:
    """A blaster that keeps what it is told to send (or refuses, like an unplugged one)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.unplugged = False

    async def send(self, code: bytes) -> None:
        if self.unplugged:
            raise DeviceUnreachable("blaster shelf did not answer")
        self.sent.append(code)


def last_nec(blaster: KeepingBlaster) -> tuple[int, int]:
    code = ir_codes.decode(bl_format.from_packet(blaster.sent[-1]))
    assert code.protocol == "NEC"
    return code.address, code.command


async def make(tmp_path: Path, blaster: KeepingBlaster, hub: Hub) -> IrDevices:
    configs = [
        parse_device_config({"id": "tv", "name": "TV", "profile": TV}, "test", blaster="shelf"),
        parse_device_config({"name": "Hall light", "profile": LIGHT}, "test", blaster="shelf"),
        parse_device_config({"id": "ac", "name": "AC", "profile": AC}, "test", blaster="shelf"),
        parse_device_config({"id": "bad", "name": "Bad", "profile": {"commands": {"x": "zz"}}},
                            "test", blaster="shelf"),
    ]

    def availability(cfg: IrDeviceConfig) -> tuple[bool, str]:
        return (False, "unplugged") if blaster.unplugged else (True, "")

    devices = IrDevices("test", lambda cfg: blaster, availability)
    await devices.setup(hub, configs, tmp_path / "store.json")
    return devices


async def test_devices_register_with_assumed_state_and_bad_profiles_are_skipped(
    tmp_path: Path,
) -> None:
    hub = Hub()
    await make(tmp_path, KeepingBlaster(), hub)
    assert set(hub.devices) == {"tv", "test-ir-hall_light", "ac"}
    assert all(d.assumed_state and d.integration == "test" for d in hub.devices.values())
    assert hub.reported["tv"]["ir_commands"] == ["mute", "power"]
    assert set(hub.devices["ac"].properties) == {
        "ir_commands", "power", "mode", "target_temperature", "fan_speed", "swing"
    }
    assert hub.online["tv"] == (True, "")


async def test_toggle_power_is_sent_only_when_the_assumed_state_differs(tmp_path: Path) -> None:
    blaster, hub = KeepingBlaster(), Hub()
    devices = await make(tmp_path, blaster, hub)
    await devices.apply_desired("tv", {"power": True})
    await devices.apply_desired("tv", {"power": True})  # already on: a toggle would turn it off
    assert len(blaster.sent) == 1
    assert last_nec(blaster) == (4, 8)
    assert hub.reported["tv"]["power"] is True
    await devices.send_command("tv", "power")  # the toggle button flips the assumed state
    assert hub.reported["tv"]["power"] is False


async def test_discrete_power_codes_and_refusals(tmp_path: Path) -> None:
    blaster, hub = KeepingBlaster(), Hub()
    devices = await make(tmp_path, blaster, hub)
    await devices.apply_desired("test-ir-hall_light", {"power": False})
    assert last_nec(blaster) == (16, 2)
    with pytest.raises(CommandFailed, match="cannot set brightness by IR"):
        await devices.apply_desired("test-ir-hall_light", {"brightness": 50})
    with pytest.raises(CommandFailed, match="no command 'netflix'; known: mute, power"):
        await devices.send_command("tv", "netflix")
    with pytest.raises(CommandFailed, match="repeat must be a whole number"):
        await devices.send_command("tv", "mute", {"repeat": 300})
    with pytest.raises(CommandFailed, match="no IR device 'radio'"):
        await devices.send_command("radio", "power")
    await devices.send_command("tv", "mute", {"repeat": 2})
    assert blaster.sent[-1][1] == 2  # the repeat count travels in the code


async def test_air_conditioner_changes_send_the_whole_merged_state(tmp_path: Path) -> None:
    blaster, hub = KeepingBlaster(), Hub()
    devices = await make(tmp_path, blaster, hub)
    await devices.apply_desired("ac", {"mode": "heat", "target_temperature": 22})
    await devices.apply_desired("ac", {"fan_speed": "5"})
    brand, state, _ = ir_codes.decode_ac(bl_format.from_packet(blaster.sent[-1]))
    assert (brand, state.power, state.mode, state.target_temperature, state.fan) == (
        "daikin", True, "heat", 22, "max"
    )
    assert hub.reported["ac"]["mode"] == "heat"


async def test_a_failed_send_changes_no_assumed_state(tmp_path: Path) -> None:
    blaster, hub = KeepingBlaster(), Hub()
    devices = await make(tmp_path, blaster, hub)
    blaster.unplugged = True
    with pytest.raises(DeviceUnreachable):
        await devices.apply_desired("ac", {"power": True})
    assert "power" not in hub.reported.get("ac", {})
    await devices.set_available(lambda cfg: cfg.blaster == "shelf", False, "unplugged")
    assert hub.online["ac"] == (False, "unplugged")


async def test_learned_codes_and_assumed_state_survive_a_restart(tmp_path: Path) -> None:
    blaster, hub = KeepingBlaster(), Hub()
    devices = await make(tmp_path, blaster, hub)
    learned = bl_format.to_packet(ir_codes.encode("NEC", 4, 0x55))
    await devices.save_learned("tv", "netflix", learned + b"\x00\x00")  # padding is trimmed
    await devices.apply_desired("ac", {"mode": "dry"})
    with pytest.raises(CommandFailed, match="not a command name"):
        await devices.save_learned("tv", "bad name!", learned)
    with pytest.raises(CommandFailed, match="not a Broadlink code packet"):
        await devices.save_learned("tv", "junk", b"\x01\x02")

    hub2, blaster2 = Hub(), KeepingBlaster()
    devices2 = await make(tmp_path, blaster2, hub2)
    assert "netflix" in hub2.reported["tv"]["ir_commands"]
    assert hub2.reported["ac"]["mode"] == "dry"
    await devices2.send_command("tv", "netflix")
    assert blaster2.sent == [learned]


def test_code_packets_are_trimmed_or_refused() -> None:
    code = bl_format.to_packet(ir_codes.encode("NEC", 1, 2))
    assert trim_code(code + bytes(12)) == code
    with pytest.raises(PacketError, match="only"):
        trim_code(code[:-3])
    with pytest.raises(PacketError, match="not IR"):
        trim_code(b"\x11" + code[1:])


def test_device_config_needs_a_profile_and_a_blaster() -> None:
    with pytest.raises(ValueError, match="needs both 'blaster'"):
        parse_device_config({"name": "TV", "profile": TV}, "broadlink")
    with pytest.raises(ValueError, match="needs 'profile'"):
        parse_device_config({"name": "TV"}, "esphome", blaster="node:6053")
    cfg = parse_device_config({"name": "Living TV", "profile": "samsung_tv"}, "esphome",
                              blaster="node:6053")
    assert (cfg.id, cfg.blaster) == ("esphome-ir-living_tv", "node:6053")
