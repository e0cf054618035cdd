"""The integration against emulated nodes over real UDP on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from echonet_testkit import RecordingHub, wait_for

from hub.model import DeviceDescription
from integrations.echonet.emulator import EchonetNode, Light, instance_list_edt
from integrations.echonet.frame import NODE_PROFILE, Esv, Property
from integrations.echonet.integration import EchonetIntegration
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError

HUB = "127.0.37.2"
HOSTS = ["127.0.37.10", "127.0.37.11", "127.0.37.12"]
OBJECTS = [["aircon", "meter"], ["solar", "battery"], ["light", "water_heater", "aircon"]]
CONFIG = {"bind": HUB, "hosts": HOSTS, "multicast": False, "poll_interval_s": 0.3,
          "timeout_s": 1.0, "retries": 1}


class _Hub(RecordingHub):
    """RecordingHub with the rest of HubPort (the ECHONET integration uses neither method)."""

    async def add_devices(self, descriptions: Sequence[DeviceDescription]) -> None:
        for description in descriptions:
            await self.add_device(description)

    def storage_dir(self, integration: str) -> Path:
        return Path(tempfile.gettempdir()) / f"homehub-test-{os.getpid()}" / integration


@pytest.fixture
async def nodes() -> AsyncIterator[list[EchonetNode]]:
    started = [EchonetNode(bind=h, objects=o) for h, o in zip(HOSTS, OBJECTS, strict=True)]
    for node in started:
        await node.start()
    yield started
    for node in started:
        await node.stop()


@pytest.fixture
async def running(
    nodes: list[EchonetNode], request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[EchonetIntegration, RecordingHub]]:
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, **getattr(request, "param", {})})
    await integ.discover()
    yield integ, hub
    await integ.shutdown()


def _device(hub: RecordingHub, host: str, eoj: str) -> str:
    return next(d.id for d in hub.devices.values()
                if d.address == host and d.extra["eoj"] == eoj)


async def test_discovers_every_object_with_properties(
    running: tuple[EchonetIntegration, RecordingHub],
) -> None:
    integ, hub = running
    assert set(integ.nodes()) == set(HOSTS)
    assert len(hub.devices) == 7
    aircon = hub.devices[_device(hub, HOSTS[0], "013001")]
    assert aircon.model == "Home air conditioner"
    assert aircon.id.startswith("echonet-fe000000")
    writable = {n for n, p in aircon.properties.items() if p.writable}
    assert writable == {"power", "mode", "target_temperature", "fan_speed"}
    assert set(aircon.properties) == writable | {"temperature", "humidity"}
    assert hub.reported[aircon.id]["target_temperature"] == 26
    meter = _device(hub, HOSTS[0], "028801")
    assert hub.reported[meter]["energy_kwh"] == pytest.approx(1234.5, abs=0.5)
    assert hub.reported[meter]["power_w"] > 0
    assert all(p.writable is False for p in hub.devices[meter].properties.values())
    battery = _device(hub, HOSTS[1], "027d01")
    assert hub.reported[battery] == {"battery_soc": 50.0, "battery_mode": "standby",
                                     "power_w": 0.0}
    heater = _device(hub, HOSTS[2], "026b01")
    assert hub.reported[heater]["tank_litres"] == 300.0
    assert all(hub.online.values())


@pytest.mark.parametrize("running", [{"poll_interval_s": 3600}], indirect=True)
async def test_write_goes_setc_set_res_then_inf(
    running: tuple[EchonetIntegration, RecordingHub], nodes: list[EchonetNode],
) -> None:
    integ, hub = running
    device = _device(hub, HOSTS[0], "013001")
    emulated = nodes[0].object("aircon")
    received = integ.client.transport.stats.received
    await integ.apply_desired(device, {"power": True, "target_temperature": 22,
                                       "mode": "heat", "fan_speed": "3"})
    assert emulated.values[0x80] == b"\x30"
    assert emulated.values[0xB3] == bytes([22])
    assert emulated.values[0xB0] == b"\x43"
    assert emulated.values[0xA0] == b"\x33"
    assert hub.reported[device]["target_temperature"] == 22
    assert hub.reported[device]["fan_speed"] == "3"
    # Set_Res, then one INF carrying the announced changes (0x80, 0xB0, 0xA0).
    await wait_for(lambda: integ.client.transport.stats.received >= received + 2,
                   what="Set_Res and INF")
    # A change made at the unit arrives by INF (polling is hourly in this test).
    await nodes[0].change("aircon", 0xB0, b"\x42")
    await wait_for(lambda: hub.reported[device]["mode"] == "cool", what="INF of mode")


async def test_refused_write_is_a_command_failure_naming_the_property(
    running: tuple[EchonetIntegration, RecordingHub], nodes: list[EchonetNode],
) -> None:
    integ, hub = running
    light = _device(hub, HOSTS[2], "029001")
    # This unit refuses brightness now (settable is a class attribute, set on this instance).
    nodes[2].object("light").settable = frozenset({0x80})  # type: ignore[misc]
    with pytest.raises(CommandFailed, match="brightness"):
        await integ.apply_desired(light, {"brightness": 40, "power": True})
    assert nodes[2].object("light").values[0x80] == b"\x30"  # the accepted part applied
    with pytest.raises(CommandFailed, match="read-only"):
        await integ.apply_desired(_device(hub, HOSTS[0], "028801"), {"power_w": 1})
    with pytest.raises(CommandFailed, match="fan_speed"):
        await integ.apply_desired(_device(hub, HOSTS[0], "013001"), {"fan_speed": "9"})


async def test_unplugged_node_goes_offline_and_comes_back(
    running: tuple[EchonetIntegration, RecordingHub], nodes: list[EchonetNode],
) -> None:
    integ, hub = running
    solar = _device(hub, HOSTS[1], "027901")
    battery = _device(hub, HOSTS[1], "027d01")
    await nodes[1].stop()
    await wait_for(lambda: hub.online[solar] is False and hub.online[battery] is False,
                   what="node offline")
    assert hub.online[_device(hub, HOSTS[0], "013001")] is True
    with pytest.raises(DeviceUnreachable):
        await integ.apply_desired(battery, {"battery_mode": "charge"})
    replacement = EchonetNode(bind=HOSTS[1], objects=OBJECTS[1])
    await replacement.start()
    nodes[1] = replacement
    await wait_for(lambda: hub.online[solar] and hub.online[battery], what="node back")
    await integ.apply_desired(battery, {"battery_mode": "charge"})
    assert replacement.object("battery").values[0xDA] == b"\x42"


async def test_generic_class_exposes_raw_properties(nodes: list[EchonetNode]) -> None:
    from integrations.echonet.emulator import EmulatedObject

    class Fan(EmulatedObject):
        kind = "fan"
        class_code = 0x0133  # ventilation fan: not mapped to the vocabulary
        settable = frozenset({0x80, 0x81})

    extra = EchonetNode(bind="127.0.37.20", objects=[Fan(1)])
    await extra.start()
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": ["127.0.37.20"]})
    try:
        await integ.discover()
        (device,) = hub.devices.values()
        assert device.model.startswith("Ventilation fan")
        assert device.properties["raw.80"].writable
        assert not device.properties["raw.8a"].writable
        assert hub.reported[device.id]["raw.80"] == "30"
        await integ.apply_desired(device.id, {"raw.80": "31"})
        assert extra.object("fan").values[0x80] == b"\x31"
    finally:
        await integ.shutdown()
        await extra.stop()


async def test_only_profiles_and_controllers_are_left_out() -> None:
    # A node lists a controller object (0x05FF) beside a television (class group 0x06, above
    # the controller's code) and a user-defined class (group 0x0F, above profiles' 0x0E): both
    # appliances become devices, the controller does not.
    from integrations.echonet.emulator import EmulatedObject

    def kind_of(name: str, code: int) -> type[EmulatedObject]:
        return type(name, (EmulatedObject,), {"kind": name, "class_code": code,
                                              "settable": frozenset({0x80})})

    objects = [kind_of("controller", 0x05FF)(1), kind_of("tv", 0x0602)(1),
               kind_of("custom", 0x0F01)(1)]
    extra = EchonetNode(bind="127.0.37.21", objects=objects)
    await extra.start()
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": ["127.0.37.21"]})
    try:
        await integ.discover()
        assert sorted(d.extra["eoj"] for d in hub.devices.values()) == ["060201", "0f0101"]
    finally:
        await integ.shutdown()
        await extra.stop()


def test_config_is_validated(caplog: pytest.LogCaptureFixture) -> None:
    from integrations.echonet.integration import EchonetConfig

    assert EchonetConfig.from_mapping({"bnd": "x"}).bind == "0.0.0.0"
    assert "unknown [integrations.echonet] keys: bnd" in caplog.text
    with pytest.raises(IntegrationError, match="bad value"):
        EchonetConfig.from_mapping({"port": "x"})
    with pytest.raises(IntegrationError, match="hosts"):
        EchonetConfig.from_mapping({"hosts": "127.0.0.1"})
    cfg = EchonetConfig.from_mapping({"hosts": ["10.0.0.5"], "retries": 0})
    assert cfg.port == 3610
    assert cfg.bind == "0.0.0.0"
    assert cfg.adopt == "ask"  # multicast finds wait for the user unless "auto"
    assert EchonetConfig.from_mapping({"adopt": "auto"}).adopt == "auto"
    with pytest.raises(IntegrationError, match='adopt must be "ask" or "auto"'):
        EchonetConfig.from_mapping({"adopt": "yes"})


async def test_node_down_at_start_is_added_when_it_appears() -> None:
    host = "127.0.37.30"
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": [host]})
    node = EchonetNode(bind=host, objects=["water_heater"])
    try:
        await integ.discover()
        assert hub.devices == {}
        await node.start()
        await wait_for(lambda: len(hub.devices) == 1, what="late node added by polling")
        (device,) = hub.devices.values()
        await wait_for(lambda: hub.reported.get(device.id, {}).get("heater_mode") == "auto",
                       what="first poll")
    finally:
        await integ.shutdown()
        await node.stop()


async def test_unit_that_changes_address_keeps_its_devices() -> None:
    first, second = "127.0.37.40", "127.0.37.41"
    ident = bytes.fromhex("fe0000770102030405060708090a0b0c0d")
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": [first, second]})
    node = EchonetNode(bind=first, objects=["light"], node_id=ident)
    await node.start()
    moved = EchonetNode(bind=second, objects=["light"], node_id=ident)
    try:
        await integ.discover()
        (device_id,) = hub.devices
        await node.stop()
        await wait_for(lambda: hub.online[device_id] is False, what="offline at old address")
        await moved.start()
        await wait_for(lambda: hub.devices[device_id].address == second
                       and hub.online[device_id], what="same device at the new address")
        assert set(integ.nodes()) == {second}
        await integ.apply_desired(device_id, {"power": True})
        assert moved.object("light").values[0x80] == b"\x30"
    finally:
        await integ.shutdown()
        await node.stop()
        await moved.stop()


async def test_node_adopted_before_a_restart_is_read_without_asking() -> None:
    host = "127.0.37.50"
    node = EchonetNode(bind=host, objects=["light"])
    await node.start()
    first_hub = _Hub()
    first = EchonetIntegration()
    await first.setup(first_hub, {**CONFIG, "hosts": [host]})
    try:
        await first.discover()
        (stored,) = first_hub.devices.values()
    finally:
        await first.shutdown()
    # The host is no longer configured: only the hub's stored device says where the node is.
    hub = _Hub()
    hub.devices[stored.id] = stored
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": []})
    try:
        await integ.discover()
        assert set(integ.nodes()) == {host}
        await wait_for(lambda: hub.online.get(stored.id) is True, what="stored node online")
        await integ.apply_desired(stored.id, {"power": True})
        assert node.object("light").values[0x80] == b"\x30"
        assert hub.found == []  # nothing to adopt again
    finally:
        await integ.shutdown()
        await node.stop()


async def test_a_host_name_that_does_not_resolve_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = "127.0.37.50"
    hub = _Hub()
    integ = EchonetIntegration()
    # .invalid never resolves (RFC 6761), so no query leaves this machine for long.
    await integ.setup(hub, {**CONFIG, "hosts": ["aircon.invalid", host]})
    node = EchonetNode(bind=host, objects=["light"])
    await node.start()
    try:
        await integ.discover()
        await integ.poll_once()
        assert set(integ.nodes()) == {host}
        said = [r.getMessage() for r in caplog.records if "aircon.invalid" in r.getMessage()]
        assert len(said) == 1, said  # once, not at every poll
        assert said[0].startswith(
            "echonet controller: host 'aircon.invalid' under hosts in [integrations.echonet] "
            "does not resolve ("
        )
        assert "fix the name or give the device's IP address" in said[0]
        assert "did not answer" not in caplog.text
        with pytest.raises(DeviceUnreachable, match=r"'aircon\.invalid' is not an IP address"):
            await integ.client.request("aircon.invalid", node.objects[0].eoj, Esv.GET,
                                       [Property(0x80)])
    finally:
        await integ.shutdown()
        await node.stop()


@asynccontextmanager
async def _reading(*started: EchonetNode) -> AsyncIterator[tuple[EchonetIntegration, RecordingHub]]:
    """Start the nodes, let a hub configured with their addresses read them, clean up."""
    for node in started:
        await node.start()
    hub = _Hub()
    integ = EchonetIntegration()
    await integ.setup(hub, {**CONFIG, "hosts": [n.bind for n in started]})
    try:
        await integ.discover()
        yield integ, hub
    finally:
        await integ.shutdown()
        for node in started:
            await node.stop()


async def test_maker_codes_and_announce_maps_are_read_and_kept() -> None:
    # Maker code 0x8A (3 bytes) on the node profile and on each object; an object without its
    # own 0x8A is shown with the node's maker. 0x9D lists what the object announces by INF.
    host = "127.0.37.60"
    silent = Light(1, epcs=[0x80, 0x81, 0x82, 0x88, 0xB0, 0xB6])  # no 0x8A of its own
    node = EchonetNode(bind=host, objects=["aircon", silent])
    node.profile.values[0x8A] = bytes.fromhex("000077")
    node.object("aircon").values[0x8A] = bytes.fromhex("00000b")
    async with _reading(node) as (integ, hub):
        info = integ.nodes()[host]
        assert info.maker == "000077"
        aircon, light = info.objects
        assert (aircon.maker, light.maker) == ("00000b", "")
        assert hub.devices[_device(hub, host, "013001")].manufacturer == "ECHONET maker 00000b"
        assert hub.devices[_device(hub, host, "029001")].manufacturer == "ECHONET maker 000077"
        assert aircon.announce_map == frozenset({0x80, 0x81, 0x88, 0xB0, 0xA0})
        assert light.announce_map == frozenset({0x80, 0x81, 0x88})
        assert aircon.set_map == frozenset({0x80, 0x81, 0xB0, 0xB3, 0xA0})


async def test_identification_number_is_used_only_when_17_bytes() -> None:
    # 0x83 = 0xFE + 3-byte maker code + 13 bytes. A node answering anything else is known by
    # its address, as one without 0x83 is.
    good = bytes.fromhex("fe000077") + bytes(range(1, 14))
    short, long = good[:16], good + b"\x0e"
    hosts = {"127.0.37.61": good, "127.0.37.62": short, "127.0.37.63": long}
    started = [EchonetNode(bind=h, objects=["light"], node_id=i) for h, i in hosts.items()]
    async with _reading(*started) as (integ, hub):
        ids = {host: info.node_id for host, info in integ.nodes().items()}
        assert ids == {"127.0.37.61": good.hex(), "127.0.37.62": "127.0.37.62",
                       "127.0.37.63": "127.0.37.63"}
        for host, node_id in ids.items():
            assert hub.devices[_device(hub, host, "029001")].extra["node_id"] == node_id


async def test_node_profile_in_the_instance_list_is_no_device() -> None:
    # Some units list their own node profile (0x0EF001, class group 0x0E) in 0xD6; it
    # describes the node, it is not an appliance.
    host = "127.0.37.64"
    node = EchonetNode(bind=host, objects=["light"])
    node.profile.values[0xD6] = instance_list_edt([NODE_PROFILE, node.object("light").eoj])
    async with _reading(node) as (integ, hub):
        assert [str(o.eoj) for o in integ.nodes()[host].objects] == ["029001"]
        assert [d.extra["eoj"] for d in hub.devices.values()] == ["029001"]


async def test_node_records_handed_out_cannot_be_altered() -> None:
    # nodes() returns the integration's own records: a caller must not be able to change the
    # id or maps the integration follows the node by.
    host = "127.0.37.65"
    async with _reading(EchonetNode(bind=host, objects=["light"])) as (integ, _hub):
        info = integ.nodes()[host]
        with pytest.raises(FrozenInstanceError):
            info.node_id = "someone else"  # type: ignore[misc]
        with pytest.raises(FrozenInstanceError):
            info.objects[0].set_map = frozenset()  # type: ignore[misc]
        assert integ.nodes()[host].node_id.startswith("fe000000")
        assert 0x80 in integ.nodes()[host].objects[0].set_map
