"""Wi-SUN B-route benchmark: the hub's SKSTACK IP session against the emulated dongle + meter.

The emulator runs at real-hardware pace (speed 1): an active scan listens 9.6 ms x (2^d + 1)
on each of 28 channels, PANA authentication takes ~2.5 s, the meter answers after ~0.8 s.
The stack measured is the integration's: pyserial-asyncio-fast on a pty, BrouteSession, the
ECHONET controller (EchonetClient + controller.get) riding on it.

Prints `name: value` lines:
    join_s                   fresh start (no remembered PAN) to a joined session: reset,
                             credentials, scan, PANA (median of the runs)
    reads_per_min            meter read cycles (one Get of E7+E8+E0 with D3/E1) per minute,
                             back to back at the dongle's pace
    rejoin_after_expiry_s    EVENT 29 (session lifetime over) to the next successful reading
                             (median; target <= 30)
    emulator_speed           1 = real-hardware delays

--quick: one join, 5 read cycles, one expiry (about 15 s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integrations.broute.credentials import Credentials  # noqa: E402
from integrations.broute.emulator import DongleEmulator  # noqa: E402
from integrations.broute.session import BrouteSession, SessionConfig, SessionState  # noqa: E402
from integrations.echonet.controller import get  # noqa: E402
from integrations.echonet.frame import Eoj  # noqa: E402
from integrations.echonet.protocol import EchonetClient  # noqa: E402
from integrations.echonet.transport import FrameHandler  # noqa: E402
from integrations.errors import DeviceUnreachable  # noqa: E402

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
METER = Eoj(0x02, 0x88, 0x01)
READ_EPCS = [0xE7, 0xE8, 0xE0, 0xD3, 0xE1]


def _client(port: str) -> tuple[EchonetClient, list[BrouteSession]]:
    sessions: list[BrouteSession] = []

    def link(on_frame: FrameHandler) -> BrouteSession:
        session = BrouteSession(SessionConfig(port=port, retry_min_s=0.2, retry_max_s=1.0),
                                Credentials(RBID, PASSWORD), on_frame)
        sessions.append(session)
        return session

    return EchonetClient(timeout_s=6.0, retries=1, link=link), sessions


async def _read(client: EchonetClient, session: BrouteSession) -> None:
    assert session.meter_address is not None
    values = await get(client, session.meter_address, METER, READ_EPCS)
    if 0xE7 not in values:
        raise DeviceUnreachable("the meter answered without E7")


async def _join_once(port: str) -> tuple[float, EchonetClient, BrouteSession]:
    client, sessions = _client(port)
    started = time.monotonic()
    await client.start()
    session = sessions[0]
    await session.wait_for(SessionState.JOINED, timeout_s=120)
    return time.monotonic() - started, client, session


async def _rejoin(dongle: DongleEmulator, client: EchonetClient, session: BrouteSession) -> float:
    joins = session.joins
    started = time.monotonic()
    dongle.expire_session()
    while True:
        if session.joins > joins and session.state is SessionState.JOINED:
            try:
                await _read(client, session)
                return time.monotonic() - started
            except DeviceUnreachable:
                pass
        await asyncio.sleep(0.05)
        if time.monotonic() - started > 120:
            raise TimeoutError("no reading within 120 s of the session expiring")


async def run(quick: bool) -> dict[str, float]:
    """Measure; returns the figures."""
    joins, cycles, expiries = (1, 5, 1) if quick else (3, 60, 3)
    with tempfile.TemporaryDirectory(prefix="broute-bench-") as folder:
        dongle = DongleEmulator(rbid=RBID, password=PASSWORD, link=Path(folder) / "wisun0")
        await dongle.start()
        try:
            join_times = []
            client = session = None
            for _ in range(joins):
                if client is not None:
                    await client.close()
                took, client, session = await _join_once(str(dongle.link))
                join_times.append(took)
            assert client is not None
            assert session is not None
            await _read(client, session)  # warm: the first Get after a join
            started = time.monotonic()
            for _ in range(cycles):
                await _read(client, session)
            reads_per_min = cycles / (time.monotonic() - started) * 60
            rejoin = [await _rejoin(dongle, client, session) for _ in range(expiries)]
            await client.close()
        finally:
            await dongle.stop()
    return {
        "join_s": statistics.median(join_times),
        "reads_per_min": reads_per_min,
        "rejoin_after_expiry_s": statistics.median(rejoin),
    }


def main() -> int:
    """Run and print `name: value` lines."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one join, 5 reads, one expiry")
    args = parser.parse_args()
    figures = asyncio.run(run(args.quick))
    print(f"join_s: {figures['join_s']:.2f}")
    print(f"reads_per_min: {figures['reads_per_min']:.1f}")
    print(f"rejoin_after_expiry_s: {figures['rejoin_after_expiry_s']:.2f}")
    print("emulator_speed: 1.0")
    return 0 if figures["rejoin_after_expiry_s"] <= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
