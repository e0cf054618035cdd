"""Shadow semantics through the real registry and SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from hub.clock import ManualClock
from hub.core.shadow import Reported, Shadow
from hub.errors import Conflict, Invalid, ReadOnlyProperty
from hub.events import DeviceAvailability
from hub.testing import eventually, running_hub
from integrations.virtual import VirtualDevice, VirtualIntegration
from integrations.virtual.integration import demo_devices


def test_delta_is_desired_minus_reported() -> None:
    s = Shadow("d")
    s.apply_reported({"power": False, "brightness": 50}, now=1.0)
    s.set_desired({"power": True, "brightness": 50}, "cmd_1", now=2.0, expires_at=None)
    assert s.delta == {"power": True}
    changed, previous, confirmed = s.apply_reported({"power": True}, now=3.0)
    assert changed == {"power": True}
    assert previous == {"power": False}
    # brightness was already as desired, power now matches: the command is fully confirmed.
    assert s.delta == {}
    assert s.desired == {}
    assert confirmed == {"cmd_1"}


def test_command_confirmed_only_when_every_key_matches() -> None:
    s = Shadow("d")
    s.set_desired({"power": True, "brightness": 70}, "cmd_1", now=1.0, expires_at=None)
    _, _, confirmed = s.apply_reported({"power": True}, now=2.0)
    assert confirmed == set()
    _, _, confirmed = s.apply_reported({"brightness": 70}, now=3.0)
    assert confirmed == {"cmd_1"}


def test_document_version_counts_changes_not_reports() -> None:
    """One new version per report that changes something (however many keys), none for a
    report that repeats the values (which only refreshes their time); a lower value is a change."""
    s = Shadow("d")
    assert s.version == 0
    s.apply_reported({"temperature": 25.0, "power": True}, now=1.0)
    assert s.version == 1
    changed, _, _ = s.apply_reported({"temperature": 25.0, "power": True}, now=2.0)
    assert (changed, s.version, s.reported["temperature"].ts) == ({}, 1, 2.0)
    changed, previous, _ = s.apply_reported({"temperature": 20.0}, now=3.0)
    assert (changed, previous, s.version) == ({"temperature": 20.0}, {"temperature": 25.0}, 2)
    assert s.reported["temperature"].version == 2 and s.reported["power"].version == 1


def test_dropping_desired_keys_bumps_the_version_only_when_something_went() -> None:
    s = Shadow("d")
    s.set_desired({"power": True, "brightness": 10}, "cmd_1", now=1.0, expires_at=None)
    s.set_desired({"brightness": 20}, "cmd_2", now=2.0, expires_at=None)
    version = s.version
    assert s.drop_desired(["power"], command_id="cmd_2") == []  # not cmd_2's any more
    assert s.drop_desired(["volume"]) == []
    assert s.version == version
    assert s.pending_for("cmd_1") == {"power": True}
    assert s.pending_for("cmd_2") == {"brightness": 20}
    assert s.drop_desired(["power", "brightness"], command_id="cmd_1") == ["power"]
    assert s.version == version + 1
    assert s.pending_for("cmd_1") == {}


def test_delta_compares_values_not_objects() -> None:
    s = Shadow("d")
    wanted, seen = float("24.5"), float("24.5")  # equal values, distinct objects
    s.set_desired(
        {"target_temperature": wanted, "name": "".join(["li", "ving"])},
        "cmd_1",
        now=1.0,
        expires_at=None,
    )
    s.reported["target_temperature"] = Reported(seen, 1.0, 1)
    s.reported["name"] = Reported("".join(["liv", "ing"]), 1.0, 1)
    assert s.delta == {}


def test_per_key_versions_conflict_only_on_the_same_key() -> None:
    s = Shadow("d")
    s.apply_reported({"power": False, "temperature": 20.0}, now=1.0)
    seen = {k: s.key_version(k) for k in ("power", "temperature")}
    # The sensor reports often: an unrelated key moves on.
    s.apply_reported({"temperature": 20.5}, now=2.0)
    s.check_versions({"power": seen["power"]})  # no conflict
    s.apply_reported({"power": True}, now=3.0)
    with pytest.raises(Conflict) as err:
        s.check_versions({"power": seen["power"]})
    assert "power" in err.value.message


def test_shadow_document_round_trips() -> None:
    s = Shadow("d")
    s.apply_reported({"power": False}, now=1.0)
    s.set_desired({"power": True}, "cmd_1", now=2.0, expires_at=9.0)
    again = Shadow.from_doc("d", s.version, s.to_doc())
    assert again.to_dict() == s.to_dict()


async def test_registry_rules(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        with pytest.raises(ReadOnlyProperty):
            await reg.write_desired("virtual-motion", {"motion": True})
        with pytest.raises(Invalid, match="no property 'colour'"):
            await reg.write_desired("virtual-lamp", {"colour": "red"})
        with pytest.raises(Invalid, match="at most 100"):
            await reg.write_desired("virtual-lamp", {"brightness": 101})
        lamp = reg.get("virtual-lamp")
        v_power = lamp.shadow.key_version("power")
        # Another client changes brightness; a power write with the old power version is fine.
        await reg.write_desired("virtual-lamp", {"brightness": 30})
        await reg.write_desired("virtual-lamp", {"power": True}, versions={"power": v_power})
        await eventually(lambda: lamp.shadow.reported["power"].value is True)
        with pytest.raises(Conflict):
            await reg.write_desired("virtual-lamp", {"power": False}, versions={"power": v_power})


async def test_idempotent_retry_applies_once(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        body = {"values": {"brightness": 42}}
        headers = {"Idempotency-Key": "retry-me-1"}
        first = await rh.client.put(
            "/api/v1/devices/virtual-lamp/desired", json=body, headers=headers
        )
        second = await rh.client.put(
            "/api/v1/devices/virtual-lamp/desired", json=body, headers=headers
        )
        assert first.status_code == second.status_code == 202
        assert first.json()["command_id"] == second.json()["command_id"]
        assert second.json()["replayed"] is True
        lamp = virtual.devices["virtual-lamp"]
        await eventually(lambda: lamp.values["brightness"] == 42)
        # A later write applied proves the device's writes drained (in order), so a duplicate
        # of the retried one would be in `applied` by now: no fixed sleep that a slow box outruns.
        later = await rh.client.put(
            "/api/v1/devices/virtual-lamp/desired", json={"values": {"brightness": 44}}
        )
        assert later.status_code == 202
        await eventually(lambda: lamp.values["brightness"] == 44)
        assert [a for a in lamp.applied if "brightness" in a] == [
            {"brightness": 42},
            {"brightness": 44},
        ]
        reuse = await rh.client.put(
            "/api/v1/devices/virtual-lamp/desired",
            json={"values": {"brightness": 43}},
            headers=headers,
        )
        assert reuse.status_code == 409
        assert "Idempotency-Key" in reuse.json()["error"]["message"]


async def test_offline_device_keeps_desired_until_it_returns(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-heater")
        r = await rh.client.put(
            "/api/v1/devices/virtual-heater/desired",
            json={"values": {"power": True, "target_temperature": 23}},
        )
        assert r.status_code == 202
        command_id = r.json()["command_id"]
        shadow = (await rh.client.get("/api/v1/devices/virtual-heater/shadow")).json()
        assert shadow["delta"] == {"power": True, "target_temperature": 23.0}
        assert virtual.devices["virtual-heater"].applied == []
        await virtual.plug_in("virtual-heater")
        heater = virtual.devices["virtual-heater"]
        await eventually(lambda: heater.values["power"] is True)
        assert heater.values["target_temperature"] == 23.0
        await eventually(lambda: rh.hub.registry.get("virtual-heater").shadow.delta == {})
        status = (await rh.client.get(f"/api/v1/commands/{command_id}")).json()
        assert status["status"] in ("sent", "confirmed")


async def test_device_refusal_becomes_failed_command_with_reason(tmp_path: Path) -> None:
    dev = VirtualDevice("virtual-x", "Fussy lamp", {}, {})
    from hub.model import spec_for

    dev.properties = {"power": spec_for("power")}
    dev.values = {"power": False}
    dev.refuse = {"power"}
    virtual = VirtualIntegration([dev])
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        events = rh.hub.bus.stream()
        r = await rh.client.put(
            "/api/v1/devices/virtual-x/desired", json={"values": {"power": True}}
        )
        command_id = r.json()["command_id"]
        while True:
            ev = await asyncio.wait_for(events.get(), 5)
            if ev.type == "command_result" and ev.status == "failed":
                break
        assert ev.command_id == command_id
        assert "refused power" in ev.reason
        shadow = rh.hub.registry.get("virtual-x").shadow
        assert shadow.desired == {}


async def test_desired_expires_for_a_device_that_never_returns(tmp_path: Path) -> None:
    clock = ManualClock()
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        ack = await rh.hub.registry.write_desired("virtual-lamp", {"power": True}, ttl_s=60)
        await clock.advance(30)
        await rh.hub.registry.expire_desired()
        assert "power" in rh.hub.registry.get("virtual-lamp").shadow.desired
        await clock.advance(31)
        await rh.hub.registry.expire_desired()
        assert rh.hub.registry.get("virtual-lamp").shadow.desired == {}
        status = await rh.hub.registry.command_status(ack.command_id)
        assert status["status"] == "expired"
        assert "time-to-live" in status["reason"]
        await virtual.plug_in("virtual-lamp")
        # A fresh write applied after the return proves the device was caught up: the expired
        # power must not have gone out before it (a fixed sleep could end before either).
        await rh.hub.registry.write_desired("virtual-lamp", {"brightness": 10})
        lamp = virtual.devices["virtual-lamp"]
        await eventually(lambda: lamp.values["brightness"] == 10)
        assert lamp.applied == [{"brightness": 10}]


async def test_state_survives_restart(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        await rh.hub.registry.write_desired("virtual-lamp", {"brightness": 10})
        await rh.client.patch(
            "/api/v1/devices/virtual-lamp", json={"name": "Desk lamp", "room": "Study"}
        )
    async with running_hub(tmp_path, []) as rh:
        rec = rh.hub.registry.get("virtual-lamp")
        assert rec.name == "Desk lamp"
        assert rec.room == "Study"
        assert rec.shadow.desired["brightness"].value == 10
        assert rec.online is False  # nobody has vouched for it since the restart
        shadow = (await rh.client.get("/api/v1/devices/virtual-lamp/shadow")).json()
        assert shadow["device_id"] == "virtual-lamp"
        assert shadow["desired"]["brightness"]["value"] == 10


async def test_a_batch_of_devices_is_stored_in_one_commit(tmp_path: Path) -> None:
    """add_devices: one durable commit for the batch; events for each; a removed device is
    offered again, not silently brought back; the batch survives a restart."""
    from hub.events import DeviceAdded, DeviceDiscovered, DeviceUpdated

    lamp = demo_devices()[0]
    lamps = [VirtualDevice(f"batch-{i}", f"Lamp {i}", lamp.properties, {}) for i in range(200)]
    async with running_hub(tmp_path, []) as rh:
        registry = rh.hub.registry
        await registry.add_device(lamps[0].description())
        await registry.remove("batch-0")
        await registry.add_device(lamps[1].description())
        seen: list[object] = []
        rh.hub.bus.subscribe(seen.append, [DeviceAdded, DeviceUpdated, DeviceDiscovered])
        commits = 0
        real_transaction = registry.db.transaction

        def counting_transaction():  # type: ignore[no-untyped-def]
            nonlocal commits
            commits += 1
            return real_transaction()

        registry.db.transaction = counting_transaction  # type: ignore[method-assign]
        renamed = dataclasses.replace(lamps[1].description(), model="v2")
        await registry.add_devices(
            [d.description() for d in lamps[2:]] + [renamed, lamps[0].description()]
        )
        assert commits == 1
        added = [e.device for e in seen if isinstance(e, DeviceAdded)]
        assert added == [f"batch-{i}" for i in range(2, 200)]
        assert [e.device for e in seen if isinstance(e, DeviceUpdated)] == ["batch-1"]
        assert [e.key for e in seen if isinstance(e, DeviceDiscovered)] == ["batch-0"]
        assert "batch-0" not in registry.devices
        assert all(registry.get(f"batch-{i}").online for i in range(1, 200))
    async with running_hub(tmp_path, []) as rh:
        assert {f"batch-{i}" for i in range(1, 200)} <= set(rh.hub.registry.devices)
        assert rh.hub.registry.get("batch-1").description.model == "v2"


def test_set_desired_names_only_the_commands_it_fully_supersedes() -> None:
    shadow = Shadow("lamp")
    assert shadow.set_desired({"power": True, "brightness": 10}, "c1", 1.0, None) == set()
    assert shadow.set_desired({"brightness": 20}, "c2", 2.0, None) == set()  # c1 keeps power
    assert shadow.set_desired({"power": False}, "c3", 3.0, None) == {"c1"}
    assert shadow.set_desired({"brightness": 30}, "c4", 4.0, None) == {"c2"}
    # A command that rewrites its own keys does not supersede itself.
    assert shadow.set_desired({"brightness": 31}, "c4", 5.0, None) == set()


async def test_a_refused_named_command_fails_with_the_devices_reason(tmp_path: Path) -> None:
    # CommandFailed is the device saying no: its words are the reason, not an "internal error".
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        r = await rh.client.post("/api/v1/devices/virtual-lamp/commands/power", json={})
        assert r.status_code == 202, r.text
        command_id = r.json()["command_id"]
        status: dict[str, Any] = {}

        async def final() -> bool:
            status.update((await rh.client.get(f"/api/v1/commands/{command_id}")).json())
            return status["status"] != "pending"

        await eventually(final, "the command's final status")
        assert status["status"] == "failed"
        assert status["reason"] == "virtual devices have no named commands"
        assert rh.hub.registry.storage_dir("virtual") == tmp_path / "integrations" / "virtual"


async def test_a_new_reason_for_being_offline_is_news_and_a_repeat_is_not(tmp_path: Path) -> None:
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        seen: list[tuple[bool, str]] = []
        rh.hub.bus.subscribe(lambda e: seen.append((e.online, e.reason)), [DeviceAvailability])
        await reg.set_available("virtual-lamp", False, "no answer")
        await reg.set_available("virtual-lamp", False, "no answer")
        await reg.set_available("virtual-lamp", False, "unplugged")
        await reg.set_available("virtual-lamp", True)
        await reg.set_available("virtual-lamp", True)
        assert seen == [(False, "no answer"), (False, "unplugged"), (True, "")]
        assert reg.get("virtual-lamp").online is True


def test_every_desired_write_raises_the_version_it_is_recorded_at() -> None:
    """Each accepted desired write is one new document version; its keys carry it, so a client
    holding the older per-key version is refused."""
    s = Shadow("d")
    s.set_desired({"power": True}, "cmd_1", now=1.0, expires_at=None)
    assert s.version == 1
    assert s.desired["power"].version == 1 and s.key_version("power") == 1
    seen = s.key_version("power")
    s.set_desired({"power": False, "brightness": 5}, "cmd_2", now=2.0, expires_at=None)
    assert s.version == 2
    assert s.key_version("power") == s.key_version("brightness") == 2
    with pytest.raises(Conflict):
        s.check_versions({"power": seen})


@pytest.mark.parametrize(("first", "second"), [("cmd_b", "cmd_c"), ("cmd_c", "cmd_b")])
def test_commands_with_different_ids_do_not_confirm_each_other(first: str, second: str) -> None:
    """A report confirms a command from the keys *it* asked for only, whichever way the ids sort."""
    s = Shadow("d")
    s.set_desired({"power": True}, first, now=1.0, expires_at=None)
    s.set_desired({"brightness": 70}, second, now=2.0, expires_at=None)
    _, _, confirmed = s.apply_reported({"power": True}, now=3.0)
    assert confirmed == {first}
    assert s.pending_for(second) == {"brightness": 70}
    assert set(s.desired) == {"brightness"}
    # The other command's key already reported as wanted is not swept up with a later report.
    s.reported["brightness"] = Reported(70, 3.0, s.version)
    s.set_desired({"power": False}, first, now=4.0, expires_at=None)
    _, _, confirmed = s.apply_reported({"power": False}, now=5.0)
    assert confirmed == {first}
    assert s.pending_for(second) == {"brightness": 70}


@pytest.mark.parametrize(("older", "newer"), [("cmd_z", "cmd_a"), ("cmd_a", "cmd_z")])
def test_superseded_commands_are_named_whichever_way_the_ids_sort(older: str, newer: str) -> None:
    s = Shadow("d")
    s.set_desired({"power": True, "brightness": 10}, older, now=1.0, expires_at=None)
    assert s.set_desired({"power": False, "brightness": 20}, newer, now=2.0, expires_at=None) == {
        older
    }
    assert s.pending_for(older) == {}


def test_pending_for_matches_command_ids_by_value_after_a_restart() -> None:
    """A stored shadow comes back with command ids parsed from JSON: equal strings, other objects,
    and the command is still found by its id."""
    import json

    command_id = "cmd_" + "".join(["3fQ", "x9"])
    s = Shadow("d")
    s.set_desired({"power": True}, command_id, now=1.0, expires_at=None)
    again = Shadow.from_doc("d", s.version, json.loads(json.dumps(s.to_doc())))
    assert again.pending_for("cmd_3fQx9") == {"power": True}
    assert s.pending_for("".join(["cmd_", "3fQx9"])) == {"power": True}


def test_a_key_never_reported_nor_desired_has_version_zero() -> None:
    s = Shadow("d")
    assert s.key_version("power") == 0
    s.apply_reported({"brightness": 5}, now=1.0)
    assert s.key_version("power") == 0
    assert s.key_version("brightness") == 1
    s.check_versions({"power": 0})  # "never seen" is the current version of an untouched key


class _FindingIntegration(VirtualIntegration):
    """Virtual devices plus finds to adopt: adopting a key adds what `on_adopt` lists for it
    (possibly nothing yet, like ECHONET) or raises the error listed; named commands are kept."""

    def __init__(self, devices: list[VirtualDevice] | None = None) -> None:
        super().__init__(devices)
        self.on_adopt: dict[str, Any] = {}
        self.commands: list[tuple[str, str, Any]] = []

    async def adopt(self, found: Any, options: Any) -> None:
        what = self.on_adopt[found.key]
        if isinstance(what, Exception):
            raise what
        await self.hub.add_devices(what)

    async def send_command(self, device_id: str, command: str, params: Any = None) -> None:
        self.commands.append((device_id, command, params))


def _virtual(dev_id: str, name: str, address: str | None = None) -> Any:
    from hub.model import spec_for

    desc = VirtualDevice(dev_id, name, {"power": spec_for("power")}, {}).description()
    return dataclasses.replace(desc, address=address)


async def test_adopting_a_find_names_the_devices_whose_ids_extend_its_key(tmp_path: Path) -> None:
    """The device whose id is the find's key takes the typed name; more devices of that node
    (id = key + "-...") keep theirs after it. Ids are built at run time, as integrations do."""
    from hub.model import DiscoveredDevice, make_device_id

    integ = _FindingIntegration([])
    async with running_hub(tmp_path, [integ]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        key = make_device_id("virtual", "node", "7")
        integ.on_adopt[key] = [
            _virtual(make_device_id("virtual", "node", "7"), "Main"),
            _virtual(make_device_id("virtual", "node", "7", "2"), "Night"),
        ]
        await reg.discovered(
            DiscoveredDevice(key=key, integration="virtual", name="Node", address="")
        )
        await reg.adopt(key, "Ceiling", "Study", {})
        assert (reg.get("virtual-node-7").name, reg.get("virtual-node-7").room) == (
            "Ceiling",
            "Study",
        )
        assert (reg.get("virtual-node-7-2").name, reg.get("virtual-node-7-2").room) == (
            "Ceiling (Night)",
            "Study",
        )
        assert key not in reg.discovered_devices


async def test_a_find_known_by_address_names_only_the_device_at_that_address(
    tmp_path: Path,
) -> None:
    """A multicast find (ECHONET) names the device that later turns up at its address, not
    another device of the same integration that happens to be added meanwhile."""
    from hub.model import DiscoveredDevice

    integ = _FindingIntegration([])
    async with running_hub(tmp_path, [integ]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        integ.on_adopt["virtual-find-1"] = []  # its devices arrive later
        await reg.discovered(
            DiscoveredDevice(
                key="virtual-find-1", integration="virtual", name="Aircon", address="192.0.2.7"
            )
        )
        await reg.adopt("virtual-find-1", "Bedroom aircon", "Bedroom", {})
        await reg.add_device(_virtual("virtual-elsewhere", "Fan", address="192.0.2.99"))
        await reg.add_device(_virtual("virtual-0a0b0c", "Air conditioner", address="192.0.2.7"))
        assert reg.get("virtual-elsewhere").name == "Fan"
        assert reg.get("virtual-elsewhere").room is None
        assert (reg.get("virtual-0a0b0c").name, reg.get("virtual-0a0b0c").room) == (
            "Bedroom aircon",
            "Bedroom",
        )


async def test_adopting_a_find_that_does_not_answer_is_unavailable_and_can_be_retried(
    tmp_path: Path,
) -> None:
    from hub.errors import Unavailable
    from hub.model import DiscoveredDevice
    from integrations.errors import DeviceUnreachable

    integ = _FindingIntegration([])
    async with running_hub(tmp_path, [integ]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        await reg.discovered(
            DiscoveredDevice(
                key="virtual-plug", integration="virtual", name="Plug", address="192.0.2.8"
            )
        )
        integ.on_adopt["virtual-plug"] = DeviceUnreachable("no reply in 3 s")
        with pytest.raises(Unavailable, match="Plug does not answer: no reply in 3 s; try again"):
            await reg.adopt("virtual-plug", "Kettle", None, {})
        assert "virtual-plug" in reg.discovered_devices  # still offered
        integ.on_adopt["virtual-plug"] = [_virtual("virtual-plug", "Plug", "192.0.2.8")]
        await reg.adopt("virtual-plug", "Kettle", None, {})
        assert reg.get("virtual-plug").name == "Kettle"


async def test_a_removed_device_in_a_batch_does_not_stop_the_rest(tmp_path: Path) -> None:
    async with running_hub(tmp_path, []) as rh:
        reg = rh.hub.registry
        await reg.add_device(_virtual("virtual-gone", "Gone"))
        await reg.remove("virtual-gone")
        await reg.add_devices(
            [
                _virtual("virtual-gone", "Gone"),
                _virtual("virtual-a", "A"),
                _virtual("virtual-b", "B"),
            ]
        )
        assert "virtual-gone" not in reg.devices
        assert "virtual-gone" in reg.discovered_devices
        assert reg.get("virtual-a").online and reg.get("virtual-b").online


async def test_devices_not_stored_are_not_known_either(tmp_path: Path) -> None:
    """A batch whose commit fails (disk full) leaves no half-known devices behind: not listed,
    not announced; the same batch stored later is added normally."""
    import contextlib
    import sqlite3

    from hub.events import DeviceAdded

    async with running_hub(tmp_path, []) as rh:
        reg = rh.hub.registry
        seen: list[str] = []
        rh.hub.bus.subscribe(lambda e: seen.append(e.device), [DeviceAdded])
        real_transaction = reg.db.transaction

        @contextlib.asynccontextmanager
        async def full_disk():  # type: ignore[no-untyped-def]
            raise sqlite3.OperationalError("database or disk is full")
            yield

        reg.db.transaction = full_disk  # type: ignore[method-assign]
        batch = [_virtual("virtual-a", "A"), _virtual("virtual-b", "B")]
        with pytest.raises(sqlite3.OperationalError):
            await reg.add_devices(batch)
        assert "virtual-a" not in reg.devices and "virtual-b" not in reg.devices
        assert seen == []
        reg.db.transaction = real_transaction  # type: ignore[method-assign]
        await reg.add_devices(batch)
        assert seen == ["virtual-a", "virtual-b"]


async def test_unknown_capabilities_and_properties_are_dropped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A device declaring what the hub does not know is still added, without those parts, and
    the log names exactly what was dropped; a clean device causes no such warning."""
    import logging

    from hub.model import spec_for
    from hub.model.vocabulary import PropertySpec, ValueType

    odd = dataclasses.replace(
        _virtual("virtual-odd", "Odd"),
        properties={
            "power": spec_for("power"),
            "warp_factor": PropertySpec("warp_factor", ValueType.FLOAT),
        },
    )
    no_caps = dataclasses.replace(
        _virtual("virtual-blaster", "Blaster"), capabilities=("ir_send", "teleport")
    )
    async with running_hub(tmp_path, []) as rh:
        reg = rh.hub.registry
        caplog.set_level(logging.WARNING, logger="hub.core.registry")
        await reg.add_device(
            dataclasses.replace(_virtual("virtual-ok", "Ok"), capabilities=("ir_send", "ir_learn"))
        )
        assert not [r for r in caplog.records if "dropping" in r.getMessage()]
        await reg.add_devices([odd, no_caps])
        assert list(reg.get("virtual-odd").description.properties) == ["power"]
        assert reg.get("virtual-blaster").description.capabilities == ("ir_send",)
        assert reg.get("virtual-ok").description.capabilities == ("ir_send", "ir_learn")
        dropped = [r.getMessage() for r in caplog.records if "dropping" in r.getMessage()]
        assert any("virtual-odd" in m and "warp_factor" in m for m in dropped), dropped
        assert "device virtual-blaster: dropping unknown capabilities {'teleport'}" in dropped
        api = (await rh.client.get("/api/v1/devices/virtual-blaster")).json()
        assert api["capabilities"] == ["ir_send"]
    async with running_hub(tmp_path, []) as rh:  # what was stored is the cleaned description
        assert list(rh.hub.registry.get("virtual-odd").description.properties) == ["power"]


async def test_a_bad_reported_value_is_ignored_and_the_good_ones_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        caplog.set_level(logging.WARNING, logger="hub.core.registry")
        for _ in range(2):
            await reg.report("virtual-lamp", {"brightness": "high", "power": True})
        shadow = reg.get("virtual-lamp").shadow
        assert shadow.reported["power"].value is True
        assert shadow.reported["brightness"].value == 60
        bad = [r for r in caplog.records if "reported a bad value" in r.getMessage()]
        assert len(bad) == 1 and "brightness" in bad[0].getMessage()  # once, not every poll


async def test_report_takes_the_hub_ports_keywords_and_keeps_the_reading_time(
    tmp_path: Path,
) -> None:
    """HubPort.report(device_id=..., values=..., timestamp=...): integrations may name every
    argument; a meter's reading time is kept as the value's time."""
    clock = ManualClock()
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())], clock=clock) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        read_at = clock.now() - 120.0
        await reg.report(
            device_id="virtual-heater", values={"temperature": 19.5}, timestamp=read_at
        )
        got = reg.get("virtual-heater").shadow.reported["temperature"]
        assert (got.value, got.ts) == (19.5, read_at)


async def test_named_commands_keep_their_params_and_need_none(tmp_path: Path) -> None:
    integ = _FindingIntegration(demo_devices())
    async with running_hub(tmp_path, [integ]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        r = await rh.client.post(
            "/api/v1/devices/virtual-lamp/commands/blink", json={"params": {"times": 3}}
        )
        assert r.status_code == 202, r.text
        with_params = r.json()["command_id"]
        bare = (await reg.send_command("virtual-lamp", "toggle")).command_id

        async def done(command_id: str) -> dict[str, Any]:
            async def final() -> dict[str, Any] | None:
                status = await reg.command_status(command_id)
                return status if status["status"] != "pending" else None

            return dict(await eventually(final, f"command {command_id} to finish"))

        first, second = await done(with_params), await done(bare)
        assert first["status"] == second["status"] == "confirmed"
        assert first["request"]["params"] == {"times": 3}
        assert second["request"] == {"device_id": "virtual-lamp", "command": "toggle", "params": {}}
        assert integ.commands == [
            ("virtual-lamp", "blink", {"times": 3}),
            ("virtual-lamp", "toggle", None),
        ]


async def test_round_trip_counts_are_exact_per_outcome(tmp_path: Path) -> None:
    """The metrics' write counts: N writes a device took are N, one it refused is one."""
    devices = demo_devices()
    devices[1].refuse = {"power"}
    virtual = VirtualIntegration(devices)
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        lamp = virtual.devices["virtual-lamp"]
        for n, level in enumerate((10, 20, 30), start=1):
            await reg.write_desired("virtual-lamp", {"brightness": level})
            await eventually(lambda n=n: len(lamp.applied) == n)
        await reg.write_desired("virtual-heater", {"power": True})
        await eventually(lambda: ("virtual", "failed") in reg.round_trips)
        await eventually(lambda: reg.round_trips[("virtual", "ok")][0] == 3)
        assert reg.round_trips[("virtual", "ok")][0] == 3
        assert reg.round_trips[("virtual", "failed")][0] == 1
        assert reg.round_trips[("virtual", "ok")][1] >= 0.0


async def test_close_leaves_no_background_work_running(tmp_path: Path) -> None:
    """When the registry's close() returns (the database closes next), its flush and expiry
    loops and a write stuck on a slow device have all ended, not merely been asked to."""

    class Slow(VirtualIntegration):
        async def apply_desired(self, device_id: str, changes: Any) -> None:
            await asyncio.Event().wait()  # a device that never answers

    async with running_hub(tmp_path, [Slow(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        await reg.write_desired("virtual-lamp", {"power": True})
        await eventually(
            lambda: any(t.get_name() == "apply-virtual-lamp" for t in asyncio.all_tasks())
        )
        await reg.flush()
        await reg.close()
        names = {"shadow-flush", "desired-expiry", "apply-virtual-lamp"}
        assert [t.get_name() for t in asyncio.all_tasks() if t.get_name() in names] == []


def test_a_command_ack_is_a_value() -> None:
    """What write_desired/send_command hand back cannot be changed by whoever holds it, and
    equal acks are interchangeable (usable as keys, e.g. to match a replayed retry)."""
    from hub.core.registry import CommandAck

    ack = CommandAck("cmd_1", 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ack.version = 5  # type: ignore[misc]
    assert {ack: "pending"}[CommandAck("cmd_1", 4)] == "pending"


def test_a_repeated_value_is_compared_by_value_and_the_rest_of_the_report_applies() -> None:
    """Devices report parsed values: an equal float is another object each time, and is no
    change (no new version, no event); a report whose first key repeats still applies the rest."""
    s = Shadow("d")
    s.apply_reported({"temperature": float("21.5"), "humidity": 40}, now=1.0)
    changed, _, _ = s.apply_reported({"temperature": float("21.5")}, now=2.0)
    assert (changed, s.version, s.reported["temperature"].ts) == ({}, 1, 2.0)
    changed, previous, _ = s.apply_reported({"temperature": float("21.5"), "humidity": 45}, now=3.0)
    assert (changed, previous, s.version) == ({"humidity": 45}, {"humidity": 40}, 2)
    assert s.reported_values() == {"temperature": 21.5, "humidity": 45}
    assert s.reported["temperature"].ts == 3.0


def test_delta_holds_a_desired_value_below_the_reported_one() -> None:
    s = Shadow("d")
    s.apply_reported({"brightness": 80, "power": True}, now=1.0)
    s.set_desired({"brightness": 50, "power": False}, "cmd_1", now=2.0, expires_at=None)
    assert s.delta == {"brightness": 50, "power": False}


@pytest.mark.parametrize("reported", [80, 20])
def test_a_reported_value_other_than_the_desired_one_does_not_confirm(reported: int) -> None:
    """Above or below what was asked for is not what was asked for."""
    s = Shadow("d")
    s.set_desired({"brightness": 50}, "cmd_1", now=1.0, expires_at=None)
    _, _, confirmed = s.apply_reported({"brightness": reported}, now=2.0)
    assert confirmed == set()
    assert s.delta == {"brightness": 50}
    _, _, confirmed = s.apply_reported({"brightness": 50}, now=3.0)
    assert confirmed == {"cmd_1"}


def test_an_equal_value_confirms_though_it_is_another_object() -> None:
    """The device's report is parsed apart from the client's write: equal, not identical."""
    s = Shadow("d")
    s.set_desired({"target_temperature": float("23.5")}, "cmd_1", now=1.0, expires_at=None)
    _, _, confirmed = s.apply_reported({"target_temperature": float("23.5")}, now=2.0)
    assert confirmed == {"cmd_1"}
    assert s.desired == {}


def test_a_client_version_at_or_past_the_keys_version_is_no_conflict() -> None:
    """A client may send the document version it read for each key it writes (>= every key's
    version); and versions arrive parsed from JSON, so equal numbers are other objects."""
    import json

    s = Shadow("d")
    for n in range(300):  # versions past the small ints CPython keeps one object of
        s.apply_reported({"temperature": 20.0 + n / 10}, now=float(n))
    s.apply_reported({"power": True}, now=300.0)
    s.apply_reported({"temperature": 1.0}, now=301.0)
    read = json.loads(json.dumps(s.to_dict()))
    assert (read["version"], read["reported"]["power"]["version"]) == (302, 301)
    s.check_versions({"power": read["reported"]["power"]["version"]})
    s.check_versions({"power": read["version"], "temperature": read["version"]})
    with pytest.raises(Conflict) as err:
        s.check_versions({"power": read["version"], "temperature": 301})
    assert err.value.details == {"current_versions": {"temperature": 302}}


def test_a_desired_value_expires_at_its_expiry_time() -> None:
    s = Shadow("d")
    s.set_desired({"power": True}, "cmd_1", now=1.0, expires_at=61.0)
    s.set_desired({"brightness": 5}, "cmd_2", now=2.0, expires_at=62.0)
    assert s.expired(60.9) == {}
    assert s.expired(61.0) == {"cmd_1": ["power"]}
    assert s.expired(62.0) == {"cmd_1": ["power"], "cmd_2": ["brightness"]}


def test_shadow_entries_take_no_attributes_beyond_their_fields() -> None:
    """Reported and Desired are updated in place (a report refreshes `ts`): a misspelt field is
    an error, not a new attribute that leaves the real one stale. Slots, one per field."""
    r = Reported(True, 1.0, 1)
    with pytest.raises(AttributeError):
        r.timestamp = 2.0  # type: ignore[attr-defined]
    d = Shadow("d")
    d.set_desired({"power": True}, "cmd_1", now=1.0, expires_at=None)
    with pytest.raises(AttributeError):
        d.desired["power"].expires = 5.0  # type: ignore[attr-defined]


async def test_a_command_restored_after_a_restart_is_confirmed_by_all_its_keys(
    tmp_path: Path,
) -> None:
    """After a restart a command's keys come back from JSON, each with its own copy of the
    command id: reporting one of two keys as wanted does not confirm it; reporting both does."""
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        ack = await rh.hub.registry.write_desired("virtual-lamp", {"power": True, "brightness": 40})
    async with running_hub(tmp_path, []) as rh:
        reg = rh.hub.registry
        await reg.report("virtual-lamp", {"power": True})
        shadow = reg.get("virtual-lamp").shadow
        assert shadow.pending_for(ack.command_id) == {"power": True, "brightness": 40}
        await reg.report("virtual-lamp", {"brightness": 40})
        assert shadow.desired == {}
        status: dict[str, Any] = {}

        async def confirmed() -> bool:
            status.update(await reg.command_status(ack.command_id))
            return status["status"] == "confirmed"

        await eventually(confirmed, "the restored command confirmed")


async def test_a_command_restored_after_a_restart_expires_with_all_its_keys(
    tmp_path: Path,
) -> None:
    """Expiry drops every key of the command, though after a restart each key holds its own
    copy of the command id (parsed from the stored JSON)."""
    clock = ManualClock()
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        ack = await rh.hub.registry.write_desired(
            "virtual-lamp", {"power": True, "brightness": 40}, ttl_s=60
        )
    async with running_hub(tmp_path, [], clock=clock) as rh:
        reg = rh.hub.registry
        assert set(reg.get("virtual-lamp").shadow.desired) == {"power", "brightness"}
        await clock.advance(61)
        await reg.expire_desired()
        assert reg.get("virtual-lamp").shadow.desired == {}
        status = await reg.command_status(ack.command_id)
        assert status["status"] == "expired"
        assert "power, brightness" in status["reason"]


async def _stored_reported(rh: Any, device_id: str) -> dict[str, Any]:
    """The reported values of a device's shadow as the database holds them now."""
    import json

    rows = await rh.hub.db.fetchall("SELECT doc FROM shadows WHERE device_id=?", (device_id,))
    return {k: v[0] for k, v in json.loads(rows[0][0])["reported"].items()}


async def test_a_reported_change_is_stored_while_the_hub_runs(tmp_path: Path) -> None:
    """Reports are written in small batches in the background, not only when the hub stops: a
    power cut loses at most the last moments, and nobody has to call flush()."""
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        await virtual.sense("virtual-heater", {"temperature": 22.5})

        async def stored() -> bool:
            return (await _stored_reported(rh, "virtual-heater")).get("temperature") == 22.5

        await eventually(stored, "the reading in the shadows table")


async def test_a_reported_change_is_written_by_the_next_flush_and_kept(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        await reg.flush()
        await virtual.sense("virtual-heater", {"temperature": 23.5})
        await reg.flush()
        assert (await _stored_reported(rh, "virtual-heater"))["temperature"] == 23.5
    async with running_hub(tmp_path, []) as rh:
        assert rh.hub.registry.get("virtual-heater").shadow.reported["temperature"].value == 23.5


async def test_a_shadow_whose_write_failed_is_written_by_the_next_flush(tmp_path: Path) -> None:
    """A failed write (here: the table is missing for a moment) keeps its shadows marked, so
    the next flush writes them even if the device says nothing new."""
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        reg, db = rh.hub.registry, rh.hub.db
        await reg.flush()
        await db.execute("ALTER TABLE shadows RENAME TO shadows_away")
        await virtual.sense("virtual-heater", {"temperature": 24.5})
        with pytest.raises(Exception, match="no such table"):
            await reg.flush()
        await db.execute("ALTER TABLE shadows_away RENAME TO shadows")
        await reg.flush()
        assert (await _stored_reported(rh, "virtual-heater"))["temperature"] == 24.5


class _Restoring(VirtualIntegration):
    """Reads its stored devices back first thing in setup, as Broadlink or ESPHome do to reach
    what they had before a restart."""

    def __init__(self, devices: list[VirtualDevice]) -> None:
        super().__init__(devices)
        self.stored: list[str] = []

    async def setup(self, hub: Any, config: Any) -> None:
        self.stored = sorted(d.id for d in hub.stored_devices(self.domain))
        await super().setup(hub, config)


async def test_an_integration_gets_its_stored_devices_back_after_a_restart(
    tmp_path: Path,
) -> None:
    """After a restart the descriptions come from the database (their integration names parsed
    from JSON, equal to the integration's own name but other objects): each integration gets
    exactly its own devices, whoever asks and however the name was built."""
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.hub.wait_integrations()
        other = dataclasses.replace(_virtual("esphome-kitchen", "Kitchen"), integration="esphome")
        await rh.hub.registry.add_device(other)
    restoring = _Restoring(demo_devices())
    async with running_hub(tmp_path, [restoring]) as rh:
        await rh.hub.wait_integrations()
        ours = ["virtual-heater", "virtual-lamp", "virtual-motion"]
        assert restoring.stored == ours
        reg = rh.hub.registry
        assert sorted(d.id for d in reg.stored_devices("".join(["vir", "tual"]))) == ours
        assert [d.id for d in reg.stored_devices("esphome")] == ["esphome-kitchen"]


async def test_a_device_added_again_while_offline_is_online_and_catches_up(tmp_path: Path) -> None:
    """An offline device its integration finds again (adds it once more) is online again, and
    what was desired meanwhile goes out to it."""
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as rh:
        await rh.hub.wait_integrations()
        reg = rh.hub.registry
        seen: list[tuple[bool, str]] = []
        rh.hub.bus.subscribe(lambda e: seen.append((e.online, e.reason)), [DeviceAvailability])
        await reg.set_available("virtual-lamp", False, "no answer")
        await reg.write_desired("virtual-lamp", {"brightness": 33})
        lamp = virtual.devices["virtual-lamp"]
        await reg.add_device(lamp.description())
        assert reg.get("virtual-lamp").online is True
        assert seen == [(False, "no answer"), (True, "found again")]
        await eventually(lambda: lamp.values["brightness"] == 33)
        dev = (await rh.client.get("/api/v1/devices/virtual-lamp")).json()
        assert (dev["online"], dev["offline_reason"]) == (True, "")
