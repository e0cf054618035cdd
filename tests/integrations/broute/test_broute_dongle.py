"""The dongle driver against the emulated dongle over a real pty: both ERXUDP forms, echo,
refusals, a send without a session, a port that vanishes mid-command, and `homehub sim broute`."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from broute_testkit import PASSWORD, RBID, SPEED, wait_until

from integrations.broute import skstack as sk
from integrations.broute.dongle import (
    AuthenticationFailed,
    Dongle,
    DongleError,
    DongleUnavailable,
    scan_time_s,
)
from integrations.broute.emulator import DongleEmulator
from integrations.echonet.frame import CONTROLLER, Eoj, Esv, Frame, Property, decode, encode

METER = Eoj(0x02, 0x88, 0x01)


async def joined(emulator: DongleEmulator, inbox: list[sk.Message], *,
                 echo_off: bool = True) -> tuple[Dongle, str]:
    dongle = Dongle(emulator.path, on_message=inbox.append)
    await dongle.open()
    if echo_off:
        await dongle.reset()
    await dongle.data_format()
    await dongle.set_credentials(RBID, PASSWORD)
    pans = await dongle.scan(4)
    assert [p.addr for p in pans] == [emulator.meter_mac]
    await dongle.set_pan(pans[0])
    address = await dongle.ll64(pans[0].addr)
    await dongle.join(address)
    return dongle, address


async def read_power(dongle: Dongle, address: str, inbox: list[sk.Message]) -> Frame:
    request = Frame(7, CONTROLLER, METER, Esv.GET, (Property(0xE7), Property(0xE8)))
    assert await dongle.sendto(address, encode(request))
    udp = await wait_until(
        lambda: next((m for m in inbox if isinstance(m, sk.UdpReceived)
                      and m.lport == sk.ECHONET_PORT), None), 10, "the meter's answer")
    answer = decode(udp.data)
    assert (answer.tid, answer.esv, answer.seoj) == (7, Esv.GET_RES, METER)
    return answer


@pytest.mark.parametrize("hex_data", [False, True])
async def test_join_and_read_in_both_erxudp_forms(hex_data: bool) -> None:
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, speed=SPEED, hex_data=hex_data)
    await emulator.start()
    emulator.set_power(2500)
    inbox: list[sk.Message] = []
    try:
        dongle, address = await joined(emulator, inbox)
        assert dongle.parser.data_format == ("hex" if hex_data else "binary")
        answer = await read_power(dongle, address, inbox)
        assert int.from_bytes(answer.values()[0xE7], "big", signed=True) == 2500
        await dongle.close()
    finally:
        await emulator.stop()


async def test_echo_left_on_is_ignored() -> None:
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, speed=SPEED)
    await emulator.start()
    inbox: list[sk.Message] = []
    try:
        dongle, address = await joined(emulator, inbox, echo_off=False)
        assert emulator.echo
        assert await dongle.version() == "1.2.10"
        await read_power(dongle, address, inbox)
        await dongle.close()
    finally:
        await emulator.stop()


async def test_refusals_wrong_password_and_no_session() -> None:
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, speed=SPEED)
    await emulator.start()
    try:
        dongle = Dongle(emulator.path)
        await dongle.open()
        await dongle.reset()
        with pytest.raises(DongleError, match="FAIL ER04"):
            await dongle.simple("SKNOSUCH")
        with pytest.raises(DongleError, match="FAIL ER06"):
            await dongle.simple("SKSCAN", 2, "FFFFFFFF", 15)
        await dongle.set_credentials(RBID, "WRONGPASS123")
        pan = (await dongle.scan(3))[0]
        await dongle.set_pan(pan)
        address = await dongle.ll64(pan.addr)
        with pytest.raises(AuthenticationFailed, match="refused the B-route ID/password"):
            await dongle.join(address)
        request = Frame(1, CONTROLLER, METER, Esv.GET, (Property(0xE7),))
        assert await dongle.sendto(address, encode(request)) is False  # EVENT 21 01
        await dongle.close()
    finally:
        await emulator.stop()


async def test_a_vanishing_port_fails_the_command_and_reports_once() -> None:
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, speed=SPEED)
    await emulator.start()
    lost: list[str] = []
    try:
        dongle = Dongle(emulator.path, on_lost=lost.append)
        await dongle.open()
        await dongle.reset()
        await dongle.set_credentials(RBID, PASSWORD)
        scan = asyncio.create_task(dongle.scan(6))  # 17 s at speed 1: long enough to pull out
        await wait_until(lambda: emulator.scans == 1, 5, "the scan to start")
        await emulator.unplug()
        with pytest.raises(DongleUnavailable, match="unplugged"):
            await scan
        assert len(lost) == 1 and not dongle.connected
        with pytest.raises(DongleUnavailable, match="not connected"):
            await dongle.version()
    finally:
        await emulator.stop()
    with pytest.raises(DongleUnavailable, match="no Wi-SUN dongle at"):
        await Dongle(emulator.path + "-gone").open()


def test_scan_time_follows_the_reference() -> None:
    assert scan_time_s(6, 1) == pytest.approx(0.624, abs=0.001)  # 9.6 ms x 65
    assert scan_time_s(4) == pytest.approx(0.0096 * 17 * 28)


LAUNCH = """
import argparse, sys
from integrations.broute.cli import register
parser = argparse.ArgumentParser(prog="homehub sim")
register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


async def test_sim_broute_prints_the_pty_and_serves_until_interrupted(tmp_path: Path) -> None:
    link = tmp_path / "wisun0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "broute", "--link", str(link), "--speed", "50",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("Wi-SUN dongle emulator on /dev/pts/")
        assert str(link) in line
        second = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "0123456789AB" in second  # the demo password, so people can configure the hub
        dongle = Dongle(str(link))
        await dongle.open()
        await dongle.reset()
        assert await dongle.version() == "1.2.10"
        await dongle.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_close_releases_the_port_before_it_returns() -> None:
    # A hub restart (or a re-join with a new session) opens the port right after closing it:
    # the exclusive lock must be gone by then, not released later by a background task.
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, speed=SPEED)
    await emulator.start()
    try:
        for _ in range(5):
            dongle = Dongle(emulator.path)
            await dongle.open()
            await dongle.reset()
            await dongle.close()
        again = Dongle(emulator.path)
        await again.open()  # DongleUnavailable ("in use by another program") before the fix
        await again.close()
    finally:
        await emulator.stop()
