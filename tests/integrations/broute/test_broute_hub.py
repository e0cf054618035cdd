"""The B-route integration in a real hub, through the real serial stack: pyserial on a pty whose
other end is the emulated SKSTACK IP dongle with a smart meter behind it."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import serial
from broute_testkit import PASSWORD, RBID, broute_section, wait_until, write_secrets

from hub.events import DeviceAvailability
from hub.testing import RunningHub, running_hub
from integrations.broute.emulator import DongleEmulator
from integrations.broute.integration import BrouteIntegration
from integrations.broute.session import SessionState

METER_ID = "broute-00135001a0b1c2d3"


async def device(rh: RunningHub) -> dict[str, Any] | None:
    resp = await rh.client.get(f"/api/v1/devices/{METER_ID}")
    return resp.json() if resp.status_code == 200 else None


async def reported(rh: RunningHub) -> dict[str, Any]:
    resp = await rh.client.get(f"/api/v1/devices/{METER_ID}/shadow")
    if resp.status_code != 200:
        return {}
    return {k: v["value"] for k, v in resp.json()["reported"].items()}


async def wait_online(rh: RunningHub, online: bool = True, timeout: float = 20.0) -> dict[str, Any]:
    last: dict[str, Any] | None = None

    async def check() -> bool:
        nonlocal last
        last = await device(rh)
        return last is not None and last["online"] is online

    await wait_async(check, timeout, f"meter online={online}")
    assert last is not None
    return last


async def wait_async(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def reason(integ: BrouteIntegration) -> str:
    return integ.session.reason if integ.state is not SessionState.STOPPED else ""


def hub_config(dongle: DongleEmulator, secrets: Path, **extra: Any) -> dict[str, Any]:
    assert dongle.link is not None
    return {"integrations": {"broute": broute_section(dongle.link, secrets, **extra)}}


async def test_joins_and_reads_power_energy_and_half_hour_readings(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path
) -> None:
    dongle.set_power(1234)
    integ = BrouteIntegration()
    async with running_hub(tmp_path / "hub", [integ], hub_config(dongle, secrets)) as rh:
        dev = await wait_online(rh)
        assert dev["integration"] == "broute"
        assert dev["address"] == "FE80:0000:0000:0000:0213:5001:A0B1:C2D3"
        names = {p["name"] for p in dev["properties"]}
        assert {"power_w", "current_a.r", "current_a.t", "energy_kwh", "energy_kwh.fixed",
                "energy_export_kwh.fixed"} <= names
        assert not any(p["writable"] for p in dev["properties"])

        await wait_async(lambda: _has(rh, "power_w", 1234.0), 10, "power 1234 W")
        values = await reported(rh)
        assert values["current_a.r"] == pytest.approx(1234 * 0.55 / 100, abs=0.1)
        assert values["current_a.t"] == pytest.approx(1234 * 0.45 / 100, abs=0.1)
        # E0 x D3 x E1: the emulated meter counts 0.1 kWh with coefficient 1
        assert values["energy_kwh"] == pytest.approx(int(dongle.meter.energy_kwh * 10) / 10,
                                                     abs=0.11)

        dongle.set_power(-800)  # solar exporting: a negative instantaneous power
        await wait_async(lambda: _has(rh, "power_w", -800.0), 10, "power -800 W")

        # the 30-minute reading lands in history at the half hour the meter stamped it with
        await rh.hub.history.flush()
        resp = await rh.client.get(f"/api/v1/devices/{METER_ID}/history",
                                   params={"property": "energy_kwh.fixed"})
        points = resp.json()["points"]
        assert points, resp.json()
        assert points[-1]["ts"] % 1800 == 0
        assert points[-1]["value"] == pytest.approx(
            int(dongle.meter._fixed[0] * 10) / 10, abs=0.11)

        # SKSTACK IP as a real dongle sees it: credentials (never in clear), scan, join, data
        commands = dongle.commands
        assert "SKSETPWD ****" in commands and "SKSETRBID ****" in commands
        assert any(c.startswith("SKSCAN 2 FFFFFFFF") for c in commands)
        assert any(c.startswith("SKJOIN FE80:0000:0000:0000:0213:5001:A0B1:C2D3") for c in commands)
        assert any(c.startswith("SKSENDTO 1 FE80:") and " 0E1A 1 " in c for c in commands)
        assert integ.status()["state"] == "joined"
        pan = json.loads((tmp_path / "hub/integrations/broute/pan.json").read_text())
        assert pan["addr"] == "00135001A0B1C2D3" and pan["channel"] == 0x21


async def _has(rh: RunningHub, name: str, value: float) -> bool:
    return (await reported(rh)).get(name) == value


async def test_session_expiry_rejoins_and_readings_resume(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path
) -> None:
    integ = BrouteIntegration()
    async with running_hub(tmp_path / "hub", [integ], hub_config(dongle, secrets)) as rh:
        seen: list[DeviceAvailability] = []
        rh.hub.bus.subscribe(seen.append, [DeviceAvailability])
        await wait_online(rh)
        assert dongle.joins == 1
        dongle.expire_session()  # EVENT 29
        await wait_until(lambda: dongle.joins == 2, 10, "a second PANA join")
        await wait_online(rh)
        dongle.set_power(777)
        await wait_async(lambda: _has(rh, "power_w", 777.0), 10, "a reading after re-join")
        offline = [e for e in seen if not e.online]
        assert any("EVENT 29" in e.reason for e in offline), offline
        assert dongle.scans == 1  # the re-join went straight to the known PAN
        assert integ.session.joins == 2


async def test_wrong_password_is_a_clear_error_and_not_hammered(
    tmp_path: Path, dongle: DongleEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    bad = write_secrets(tmp_path / "bad.toml", password="WRONGPASS123")
    integ = BrouteIntegration()
    caplog.set_level(logging.WARNING)
    async with running_hub(tmp_path / "hub", [integ], hub_config(dongle, bad)) as rh:
        await wait_until(lambda: integ.state is SessionState.AUTH_FAILED, 20,
                         "the PANA failure")
        dev = await wait_online(rh, online=False)
        assert "refused the B-route ID/password" in dev["offline_reason"]
        assert "secrets file" in dev["offline_reason"]
        assert integ.status()["state"] == "auth_failed"
        assert dongle.joins == 0
        # one scan, one refused join, then nothing until auth_retry_s (600 s) has passed
        assert sum(c.startswith("SKJOIN") for c in dongle.commands) == 1
        assert "refused the B-route ID/password" in caplog.text
        assert "WRONGPASS123" not in caplog.text and RBID not in caplog.text
        assert (await rh.client.get("/api/v1/health")).status_code == 200


async def test_unplugged_dongle_goes_offline_then_comes_back(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path
) -> None:
    integ = BrouteIntegration()
    async with running_hub(tmp_path / "hub", [integ], hub_config(dongle, secrets)) as rh:
        await wait_online(rh)
        await dongle.unplug()
        dev = await wait_online(rh, online=False)
        assert "unplugged" in dev["offline_reason"] or "no Wi-SUN dongle" in dev["offline_reason"]
        await dongle.plug()  # a new pty behind the same link, a dongle with no session
        await wait_online(rh)
        dongle.set_power(432)
        await wait_async(lambda: _has(rh, "power_w", 432.0), 10, "a reading after replug")
        assert dongle.joins == 2 and integ.session.joins == 2
        assert dongle.scans == 1  # after the replug the remembered PAN was joined directly


async def test_restart_resumes_the_stored_meter_without_scanning(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path
) -> None:
    config = hub_config(dongle, secrets)
    async with running_hub(tmp_path / "hub", [BrouteIntegration()], config) as rh:
        await wait_online(rh)
    scans = dongle.scans
    async with running_hub(tmp_path / "hub", [BrouteIntegration()], config) as rh:
        await wait_online(rh)
        assert dongle.scans == scans
        devices = (await rh.client.get("/api/v1/devices")).json()["devices"]
        assert [d["id"] for d in devices] == [METER_ID]


async def test_id_and_password_never_leave_the_hub(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_hub(tmp_path / "hub", [BrouteIntegration()],
                           hub_config(dongle, secrets)) as rh:
        await wait_online(rh)
        await wait_async(lambda: _has_any(rh), 10, "a reading")
        texts = []
        for path in ("/api/v1/devices", f"/api/v1/devices/{METER_ID}",
                     f"/api/v1/devices/{METER_ID}/shadow", "/api/v1/discovered",
                     "/api/v1/openapi.json", "/api/v1/health"):
            resp = await rh.client.get(path)
            assert resp.status_code == 200, path
            texts.append(resp.text)
        stored = rh.hub.registry.device(METER_ID)
        assert stored is not None
        texts.append(json.dumps(stored.to_dict()))
        texts.append(caplog.text)
        for text in texts:
            assert RBID not in text and PASSWORD not in text
    assert stat.S_IMODE((await asyncio.to_thread(secrets.stat)).st_mode) == 0o600


async def _has_any(rh: RunningHub) -> bool:
    return "power_w" in await reported(rh)


async def test_busy_port_and_missing_port_are_explained(
    tmp_path: Path, dongle: DongleEmulator, secrets: Path
) -> None:
    holder = serial.Serial(dongle.path, 115200, exclusive=True)  # another program has it
    try:
        integ = BrouteIntegration()
        async with running_hub(tmp_path / "hub", [integ], hub_config(dongle, secrets)):
            await wait_until(lambda: "in use by another program" in reason(integ), 10,
                             "the busy-port message")
            assert integ.state is SessionState.NO_DONGLE
    finally:
        holder.close()

    integ = BrouteIntegration()
    config = {"integrations": {"broute": broute_section(tmp_path / "nothing", secrets)}}
    async with running_hub(tmp_path / "hub2", [integ], config) as rh:
        await wait_until(lambda: "no Wi-SUN dongle at" in reason(integ), 10,
                         "the missing-dongle message")
        assert (await rh.client.get("/api/v1/devices")).json()["devices"] == []
