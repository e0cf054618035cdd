"""The Broadlink integration end to end: hub API -> integration -> real library -> emulator.

Addresses 127.0.0.30-31 belong to this module (emulators on ephemeral ports).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import ir_codes
from hub.testing import RunningHub, running_hub
from integrations.broadlink import captures
from integrations.broadlink.client import LearnTimeout
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration, blaster_device_id
from integrations.errors import CommandFailed, DeviceUnreachable
from ir_codes.formats import broadlink as bl_format

PRO_ADDR = "127.0.0.30"  # found by discovery
MINI_ADDR = "127.0.0.31"  # a static host
TV_POWER = captures.nec_packet(0x04, 0x08)
TV_VOL_UP = captures.nec_packet(0x04, 0x02)
FAN_ON = captures.nec_packet(0x80, 0x10)
FAN_OFF = captures.nec_packet(0x80, 0x11)



async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def emulators() -> AsyncIterator[tuple[BroadlinkEmulator, BroadlinkEmulator]]:
    pro = BroadlinkEmulator(PRO_ADDR, 0, model="rm4pro", name="Living RM4")
    mini = BroadlinkEmulator(MINI_ADDR, 0, model="rmmini3", name="Bedroom RM")
    async with pro, mini:
        yield pro, mini


def config(pro: BroadlinkEmulator, mini: BroadlinkEmulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "hosts": [f"{MINI_ADDR}:{mini.port}"],
        "discover_address": PRO_ADDR,
        "discover_port": pro.port,
        "discover_timeout": 0.5,
        "timeout": 2,
        "poll_interval": 0.3,
        "store_path": str(tmp_path / "broadlink.json"),
        "profile_dirs": [str(tmp_path / "profiles")],
        "devices": [
            {
                "id": "living-tv",
                "name": "Living room TV",
                "blaster": pro.mac_text,
                "room": "Living room",
                "profile": {
                    "kind": "tv",
                    "commands": {"power": TV_POWER.hex(), "volume_up": TV_VOL_UP.hex()},
                    "power": {"toggle": "power"},
                },
            },
            {
                "id": "bedroom-ac",
                "name": "Bedroom AC",
                "blaster": PRO_ADDR,
                "profile": {"kind": "ac", "brand": "daikin"},
            },
            {
                "id": "hall-light",
                "name": "Hall light",
                "blaster": blaster_device_id(pro.mac_text),
                "profile": {"kind": "light", "commands": {
                    "power_on": {"protocol": "NEC", "address": 0x10, "command": 0x01},
                    "power_off": {"protocol": "NEC", "address": 0x10, "command": 0x02},
                }},
            },
            {
                "id": "bedroom-tv",
                "name": "Bedroom TV",
                "blaster": PRO_ADDR,
                "profile": "samsung_tv",  # a code set shipped with ir_codes
            },
            {  # a bad code: this device is skipped with a log line, the others still work
                "id": "broken-remote",
                "name": "Broken remote",
                "blaster": PRO_ADDR,
                "profile": {"commands": {"power": "not a code"}},
            },
            {
                "id": "bedroom-fan",
                "name": "Bedroom fan",
                "blaster": MINI_ADDR,
                "profile": {"kind": "fan", "commands": {"power_on": FAN_ON.hex(),
                                                        "power_off": FAN_OFF.hex()}},
            },
        ],
    }


@pytest.fixture
async def hub(
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator], tmp_path: Path
) -> AsyncIterator[tuple[RunningHub, BroadlinkIntegration]]:
    pro, mini = emulators
    integ = BroadlinkIntegration()
    cfg = {"integrations": {"broadlink": config(pro, mini, tmp_path)}}
    async with running_hub(tmp_path / "hub", integrations=[integ], config=cfg) as rh:
        await rh.hub.wait_integrations()
        yield rh, integ


async def device(rh: RunningHub, device_id: str) -> dict[str, Any]:
    resp = await rh.client.get(f"/api/v1/devices/{device_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def reported(rh: RunningHub, device_id: str) -> dict[str, Any]:
    resp = await rh.client.get(f"/api/v1/devices/{device_id}/shadow")
    assert resp.status_code == 200, resp.text
    return {k: v["value"] for k, v in resp.json()["reported"].items()}


async def command_result(rh: RunningHub, command_id: str) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def finished() -> bool:
        resp = await rh.client.get(f"/api/v1/commands/{command_id}")
        result.update(resp.json())
        return result["status"] in ("sent", "confirmed", "failed", "expired")

    await wait_for(finished)
    return result


async def press_button(
    rh: RunningHub, device_id: str, command: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    resp = await rh.client.post(
        f"/api/v1/devices/{device_id}/commands/{command}", json={"params": params or {}}
    )
    assert resp.status_code == 202, resp.text
    return await command_result(rh, resp.json()["command_id"])


async def test_blasters_and_ir_devices_appear(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, mini = emulators
    blaster = await device(rh, blaster_device_id(pro.mac_text))
    assert (blaster["model"], blaster["manufacturer"], blaster["online"]) == (
        "RM4 pro", "Broadlink", True
    )
    assert await reported(rh, blaster["id"]) == {"temperature": 23.45, "humidity": 41.5}
    old = await device(rh, blaster_device_id(mini.mac_text))
    assert (old["model"], old["address"], old["online"]) == ("RM mini 3", MINI_ADDR, True)
    tv = await device(rh, "living-tv")
    assert tv["assumed_state"] is True
    assert tv["online"] is True
    assert {p["name"] for p in tv["properties"]} == {"power", "ir_commands"}
    assert (await reported(rh, "living-tv"))["ir_commands"] == ["power", "volume_up"]
    assert (await rh.client.get("/api/v1/devices/broken-remote")).status_code == 404


async def test_named_command_sends_exactly_the_code(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, mini = emulators
    result = await press_button(rh, "living-tv", "volume_up")
    assert result["status"] == "confirmed", result
    assert pro.sent == [TV_VOL_UP]
    assert mini.sent == []
    result = await press_button(rh, "living-tv", "volume_up", {"repeat": 2})
    assert result["status"] == "confirmed"
    assert pro.sent[-1] == TV_VOL_UP[:1] + b"\x02" + TV_VOL_UP[2:]


async def test_unknown_command_fails_with_the_known_ones(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    result = await press_button(rh, "living-tv", "self_destruct")
    assert result["status"] == "failed"
    assert "no command 'self_destruct'; known: power, volume_up" in result["reason"]
    assert emulators[0].sent == []


async def test_desired_power_toggles_and_reports_assumed_state(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators

    async def set_power(on: bool) -> None:
        resp = await rh.client.put(
            "/api/v1/devices/living-tv/desired", json={"values": {"power": on}}
        )
        assert resp.status_code == 202, resp.text

        async def done() -> bool:
            return (await reported(rh, "living-tv")).get("power") is on

        await wait_for(done)

    await set_power(True)
    assert pro.sent == [TV_POWER]
    await set_power(False)
    assert pro.sent == [TV_POWER, TV_POWER]
    tv = await device(rh, "living-tv")
    assert tv["assumed_state"] is True


async def test_discrete_power_codes_go_through_the_static_host(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    _, mini = emulators
    resp = await rh.client.put(
        "/api/v1/devices/bedroom-fan/desired", json={"values": {"power": True}}
    )
    assert resp.status_code == 202

    async def fan_on() -> bool:
        return (await reported(rh, "bedroom-fan")).get("power") is True

    await wait_for(fan_on)
    assert mini.sent == [FAN_ON]
    result = await press_button(rh, "bedroom-fan", "power_off")
    assert result["status"] == "confirmed"
    assert mini.sent == [FAN_ON, FAN_OFF]
    assert (await reported(rh, "bedroom-fan"))["power"] is False


async def test_learning_with_progress_saves_a_command_that_then_sends(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
    tmp_path: Path,
) -> None:
    rh, integ = hub
    pro, _ = emulators
    netflix = captures.nec_packet(0x04, 0x55)
    progress: list[tuple[float, float]] = []

    async def press_when_learning() -> None:
        deadline = time.monotonic() + 15
        while not (pro.learning and progress):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        pro.press(netflix)

    presser = asyncio.create_task(press_when_learning())
    code = await integ.learn_command(
        "living-tv", "netflix", 20, lambda e, r: progress.append((e, r))
    )
    await presser
    assert code == netflix
    assert progress[0][1] == pytest.approx(20, abs=1)
    assert (await reported(rh, "living-tv"))["ir_commands"] == ["netflix", "power", "volume_up"]
    stored = json.loads((tmp_path / "broadlink.json").read_text())
    assert stored["commands"] == {"living-tv": {"netflix": netflix.hex()}}
    result = await press_button(rh, "living-tv", "netflix")
    assert result["status"] == "confirmed"
    assert pro.sent == [netflix]


async def test_learned_codes_survive_a_restart(
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator], tmp_path: Path
) -> None:
    pro, mini = emulators
    learned = captures.nec_packet(0x04, 0x66)
    store = {"commands": {"living-tv": {"hdmi1": learned.hex()}}}
    (tmp_path / "broadlink.json").write_text(json.dumps(store))
    integ = BroadlinkIntegration()
    cfg = {"integrations": {"broadlink": config(pro, mini, tmp_path)}}
    async with running_hub(tmp_path / "hub", integrations=[integ], config=cfg) as rh:
        await rh.hub.wait_integrations()
        assert "hdmi1" in (await reported(rh, "living-tv"))["ir_commands"]
        result = await press_button(rh, "living-tv", "hdmi1")
        assert result["status"] == "confirmed"
        assert pro.sent == [learned]


async def test_learn_timeout_and_unknown_blaster(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    _, integ = hub
    pro, _ = emulators
    progress: list[tuple[float, float]] = []
    with pytest.raises(LearnTimeout, match=r"timed out: .* within 0\.5 s"):
        await integ.learn(
            blaster_device_id(pro.mac_text), 0.5, lambda e, r: progress.append((e, r))
        )
    assert progress and progress[0][0] < progress[-1][0]
    with pytest.raises(DeviceUnreachable, match="34:ea:34:00:00:00 is not connected"):
        await integ.learn("34:ea:34:00:00:00", 1)
    with pytest.raises(CommandFailed, match="is not a command name"):
        await integ.save_learned("living-tv", "bad name!", TV_POWER)


async def test_blaster_going_away_and_coming_back(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    blaster_id = blaster_device_id(pro.mac_text)
    pro.unresponsive = True

    async def tv_online(expected: bool) -> bool:
        return bool((await device(rh, "living-tv"))["online"]) is expected

    async def offline() -> bool:
        return await tv_online(False) and not (await device(rh, blaster_id))["online"]

    await wait_for(offline)  # the poll loop notices
    resp = await rh.client.post("/api/v1/devices/living-tv/commands/power", json={})
    assert resp.status_code in (409, 503), resp.text  # named commands are not queued offline
    pro.unresponsive = False

    async def online() -> bool:
        return await tv_online(True)

    await wait_for(online)
    result = await press_button(rh, "living-tv", "power")
    assert result["status"] == "confirmed"
    assert pro.sent == [TV_POWER]


async def test_send_failure_reason_when_the_blaster_stops_answering(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    _, integ = hub
    _, mini = emulators
    mini.unresponsive = True
    with pytest.raises(DeviceUnreachable, match="did not answer within 2 s"):
        await integ.send_command("bedroom-fan", "power_on")
    assert mini.sent == []


async def put_desired(rh: RunningHub, device_id: str, values: dict[str, Any]) -> None:
    resp = await rh.client.put(f"/api/v1/devices/{device_id}/desired", json={"values": values})
    assert resp.status_code == 202, resp.text

    async def confirmed() -> bool:
        now = await reported(rh, device_id)
        return all(now.get(k) == v for k, v in values.items())

    await wait_for(confirmed)


async def test_air_conditioner_state_goes_out_as_one_whole_frame(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    ac = await device(rh, "bedroom-ac")
    assert ac["assumed_state"] is True
    assert ac["manufacturer"] == "daikin"
    props = {p["name"]: p for p in ac["properties"]}
    assert {"power", "mode", "target_temperature", "fan_speed", "swing"} <= props.keys()
    assert props["target_temperature"]["writable"] is True

    await put_desired(rh, "bedroom-ac", {"power": True, "mode": "heat", "target_temperature": 23})
    brand, state, _ = ir_codes.decode_ac(bl_format.from_packet(pro.sent[-1]))
    assert (brand, state.power, state.mode) == ("daikin", True, "heat")
    assert state.target_temperature == 23

    await put_desired(rh, "bedroom-ac", {"target_temperature": 25, "fan_speed": "5"})
    assert len(pro.sent) == 2
    _, state, _ = ir_codes.decode_ac(bl_format.from_packet(pro.sent[-1]))
    # the whole state again: mode and power kept from before, the changes applied
    assert (state.power, state.mode, state.target_temperature, state.fan) == (
        True, "heat", 25, "max"
    )
    assert (await reported(rh, "bedroom-ac"))["mode"] == "heat"


async def test_out_of_range_temperature_is_refused_by_the_hub(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    resp = await rh.client.put(
        "/api/v1/devices/bedroom-ac/desired", json={"values": {"target_temperature": 45}}
    )
    assert resp.status_code in (400, 422), resp.text
    assert emulators[0].sent == []


async def test_protocol_profile_codes_come_from_ir_codes(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    await put_desired(rh, "hall-light", {"power": True})
    await put_desired(rh, "hall-light", {"power": False})
    assert pro.sent == [
        bl_format.to_packet(ir_codes.encode("NEC", 0x10, 0x01)),
        bl_format.to_packet(ir_codes.encode("NEC", 0x10, 0x02)),
    ]
    decoded = ir_codes.decode(bl_format.from_packet(pro.sent[1]))
    assert (decoded.protocol, decoded.address, decoded.command) == ("NEC", 0x10, 0x02)


async def test_learning_through_the_hub_api(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    blaster = blaster_device_id(pro.mac_text)
    resp = await rh.client.post("/api/v1/ir/learn", json={"blaster_id": blaster, "timeout_s": 20})
    assert resp.status_code == 202, resp.text
    session_id = resp.json()["session_id"]

    async def listening() -> bool:
        return pro.learning

    await wait_for(listening)
    pro.press(captures.DEMO_CAPTURES["tv_power"])
    session: dict[str, Any] = {}

    async def captured() -> bool:
        session.update((await rh.client.get(f"/api/v1/ir/learn/{session_id}")).json())
        return session["state"] != "waiting"

    await wait_for(captured)
    assert session["state"] == "captured", session
    assert session["code"]["broadlink_hex"] == captures.DEMO_CAPTURES["tv_power"].hex()
    resp = await rh.client.post(
        f"/api/v1/ir/learn/{session_id}/save", json={"device_id": "living-tv", "command": "on_off"}
    )
    assert resp.status_code == 200, resp.text
    result = await press_button(rh, "living-tv", "on_off")
    assert result["status"] == "confirmed"
    assert pro.sent == [captures.DEMO_CAPTURES["tv_power"]]


async def test_learning_timeout_through_the_hub_api(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    blaster = blaster_device_id(pro.mac_text)
    resp = await rh.client.post("/api/v1/ir/learn", json={"blaster_id": blaster, "timeout_s": 1})
    assert resp.status_code == 202, resp.text
    session_id = resp.json()["session_id"]
    session: dict[str, Any] = {}

    async def finished() -> bool:
        session.update((await rh.client.get(f"/api/v1/ir/learn/{session_id}")).json())
        return session["state"] != "waiting"

    await wait_for(finished)
    assert session["state"] == "timeout", session
    assert "point the remote at the blaster" in session["reason"]


async def test_assumed_ac_state_survives_a_restart(
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator], tmp_path: Path
) -> None:
    pro, mini = emulators
    cfg = {"integrations": {"broadlink": config(pro, mini, tmp_path)}}
    async with running_hub(tmp_path / "hub", [BroadlinkIntegration()], config=cfg) as rh:
        await rh.hub.wait_integrations()
        await put_desired(rh, "bedroom-ac", {"mode": "dry", "target_temperature": 22})
    async with running_hub(tmp_path / "hub", [BroadlinkIntegration()], config=cfg) as rh:
        await rh.hub.wait_integrations()
        await put_desired(rh, "bedroom-ac", {"target_temperature": 24})
    _, state, _ = ir_codes.decode_ac(bl_format.from_packet(pro.sent[-1]))
    assert (state.power, state.mode, state.target_temperature) == (True, "dry", 24)


async def test_a_blaster_that_starts_late_is_picked_up(tmp_path: Path) -> None:
    pro = BroadlinkEmulator(PRO_ADDR, 0, model="rm4pro")
    late = BroadlinkEmulator(MINI_ADDR, 0, model="rmmini3")
    async with pro, late:
        late.unresponsive = True  # still booting when the hub starts
        cfg = {"integrations": {"broadlink": config(pro, late, tmp_path)}}
        async with running_hub(tmp_path / "hub", [BroadlinkIntegration()], config=cfg) as rh:
            await rh.hub.wait_integrations()
            assert (await device(rh, "bedroom-fan"))["online"] is False
            late.unresponsive = False

            async def fan_online() -> bool:
                return bool((await device(rh, "bedroom-fan"))["online"])

            await wait_for(fan_online)
            result = await press_button(rh, "bedroom-fan", "power_on")
            assert result["status"] == "confirmed", result
            assert late.sent == [FAN_ON]
            result = await press_button(rh, "bedroom-fan", "power_on", {"repeat": "lots"})
            assert result["status"] == "failed"
            assert "repeat must be a whole number" in result["reason"]


async def test_named_code_set_device(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
) -> None:
    rh, _ = hub
    pro, _ = emulators
    await put_desired(rh, "bedroom-tv", {"power": True})
    result = await press_button(rh, "bedroom-tv", "volume_up")
    assert result["status"] == "confirmed"
    decoded = [ir_codes.decode(bl_format.from_packet(code)) for code in pro.sent]
    assert [(d.protocol, d.address, d.command) for d in decoded] == [
        ("SAMSUNG32", 0x07, 0x99), ("SAMSUNG32", 0x07, 0x07)
    ]


async def test_export_learned_codes_as_a_user_profile(
    hub: tuple[RunningHub, BroadlinkIntegration],
    emulators: tuple[BroadlinkEmulator, BroadlinkEmulator],
    tmp_path: Path,
) -> None:
    from ir_codes.codesets import load_profile as load_code_set

    _, integ = hub
    await integ.save_learned("living-tv", "netflix", captures.nec_packet(0x04, 0x55))
    path = await integ.export_profile("living-tv", "my_living_tv")
    assert path == tmp_path / "profiles" / "my_living_tv.yaml"
    code_set = load_code_set("my_living_tv", [tmp_path / "profiles"])
    assert code_set.power == {"toggle": "power"}
    netflix = code_set.commands["netflix"]
    assert (netflix.protocol, netflix.address, netflix.command) == ("NEC", 0x04, 0x55)
    assert sorted(code_set.commands) == ["netflix", "power", "volume_up"]
