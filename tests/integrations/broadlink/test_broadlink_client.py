"""BroadlinkClient (async, over the real library) against the emulator on loopback.

Addresses 127.0.0.25-29 belong to this module (emulators on ephemeral ports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from integrations.broadlink import captures
from integrations.broadlink.client import BroadlinkClient, LearnTimeout
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.errors import CommandFailed, DeviceUnreachable

ADDR = "127.0.0.25"
CODE = captures.nec_packet(0x04, 0x08)



async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def emulator() -> AsyncIterator[BroadlinkEmulator]:
    async with BroadlinkEmulator(ADDR, 0, model="rm4mini", name="Desk RM") as em:
        yield em


async def test_connect_send_and_info(emulator: BroadlinkEmulator) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    assert client.authenticated
    assert client.info.mac == emulator.mac_text
    assert (client.info.model, client.info.name, client.info.host) == ("RM4 mini", "Desk RM", ADDR)
    await client.send(CODE)
    assert emulator.sent == [CODE]
    assert await client.firmware() == 55
    assert await client.sensors() == {"temperature": 23.45, "humidity": 41.5}


async def test_discover_finds_the_emulator(emulator: BroadlinkEmulator) -> None:
    found = await BroadlinkClient.discover(ADDR, timeout=1, port=emulator.port)
    assert [c.info.mac for c in found] == [emulator.mac_text]
    assert not found[0].authenticated
    await found[0].send(CODE)  # authenticates on first use
    assert emulator.sent == [CODE]


async def test_concurrent_sends_are_serialised_and_all_arrive(
    emulator: BroadlinkEmulator,
) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    codes = [captures.nec_packet(0x04, c) for c in range(8)]
    await asyncio.gather(*(client.send(c) for c in codes))
    assert sorted(emulator.sent) == sorted(codes)


async def test_learn_reports_progress_and_returns_the_capture(
    emulator: BroadlinkEmulator,
) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    progress: list[tuple[float, float]] = []

    async def press_when_learning() -> None:
        await wait_for(lambda: emulator.learning and len(progress) >= 2)
        emulator.press(CODE)

    presser = asyncio.create_task(press_when_learning())
    code = await client.learn(20, lambda e, r: progress.append((e, r)), poll_interval=0.05)
    await presser
    assert code == CODE
    assert progress[0][1] == pytest.approx(20, abs=0.5)
    elapsed = [e for e, _ in progress]
    assert elapsed == sorted(elapsed)
    assert all(abs(e + r - 20) < 1e-6 for e, r in progress)


async def test_learn_times_out_with_advice(emulator: BroadlinkEmulator) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    progress: list[tuple[float, float]] = []
    with pytest.raises(LearnTimeout, match=r"received no IR code within 0\.3 s; point the remote"):
        await client.learn(0.3, lambda e, r: progress.append((e, r)), poll_interval=0.05)
    assert progress and progress[-1][1] < 0.3
    assert emulator.learning  # the blaster was in learning mode the whole time


async def test_learn_on_old_firmware_strips_padding() -> None:
    async with BroadlinkEmulator("127.0.0.26", 0, model="rmmini3") as em:
        client = await BroadlinkClient.connect("127.0.0.26", em.port, timeout=5)
        await client.enter_learning()
        em.press(CODE[:20] + b"\x0d\x05")  # a short code: padding certainly follows it
        short = bytes([0x26, 0]) + (18).to_bytes(2, "little") + CODE[4:20] + b"\x0d\x05"
        em.press(short)
        assert await client.check_data() == short
        assert await client.sensors() == {}  # RM mini 3 has no sensors


async def test_reauth_once_after_the_blaster_rebooted(emulator: BroadlinkEmulator) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    emulator.reset_sessions()
    await client.send(CODE)
    assert emulator.auth_count == 2
    assert emulator.sent == [CODE]


async def test_unreachable_blaster_says_what_to_check(emulator: BroadlinkEmulator) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=1)
    emulator.unresponsive = True
    with pytest.raises(DeviceUnreachable, match=r"did not answer within 1 s; check that it is"):
        await client.send(CODE)
    emulator.unresponsive = False
    await client.send(CODE)
    assert emulator.sent == [CODE]


async def test_connect_to_nothing_is_unreachable() -> None:
    with pytest.raises(DeviceUnreachable, match=r"Broadlink blaster at 127.0.0.27 did not answer"):
        await BroadlinkClient.connect("127.0.0.27", timeout=1)


async def test_bad_code_is_refused_before_sending(emulator: BroadlinkEmulator) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=5)
    with pytest.raises(CommandFailed, match="not a Broadlink code packet"):
        await client.send(b"\x99\x00\x00")
    with pytest.raises(CommandFailed, match="could not send an IR code"):
        await client.send(bytes.fromhex("2600ff0011"))  # the blaster refuses it
    assert emulator.sent == []


async def test_the_loop_keeps_running_while_the_library_waits(
    emulator: BroadlinkEmulator,
) -> None:
    client = await BroadlinkClient.connect(ADDR, emulator.port, timeout=1)
    emulator.unresponsive = True
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    with pytest.raises(DeviceUnreachable):
        await client.send(CODE)  # the library retries for a whole second in its thread
    task.cancel()
    assert ticks > 20


async def test_locked_blaster_tells_how_to_unlock() -> None:
    async with BroadlinkEmulator("127.0.0.28", 0, locked=True) as em:
        found = await BroadlinkClient.discover("127.0.0.28", timeout=1, port=em.port)
        assert found[0].info.locked
        with pytest.raises(CommandFailed, match=r"unlock it in the Broadlink app"):
            await BroadlinkClient.connect("127.0.0.28", em.port, timeout=2)


async def test_the_blocking_guard_is_armed(tmp_path: Path) -> None:
    """The guard fails a blocking call made on the loop from our package."""
    blockbuster = pytest.importorskip("blockbuster")

    from integrations.broadlink import store

    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(blockbuster.BlockingError):
        store._read(tmp_path / "s.json")
    assert await store.IrStore.load(tmp_path / "s.json") is not None  # the real path: a thread
