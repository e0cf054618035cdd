"""Relay benchmarks: idle tunnels per process, added latency, reconnect storm.

    .venv/bin/python bench/relay.py [--tunnels 20000] [--storm]

Prints `name: value` lines:
  tunnels, kb_per_tunnel        idle hub tunnels one relay process holds, and its RSS per tunnel
  heartbeat_s                   the relay's heartbeat (its default unless --heartbeat-s): each
                                idle hub pings once per heartbeat, as the real hub does, and the
                                relay answers; memory and CPU of that are part of the cost
  relay_idle_cpu_pct            the relay process's CPU while holding the idle tunnels
  added_p50_ms, added_p99_ms    latency through the relay minus direct to the hub, fixed rate
  storm_reconnect_s             SIGTERM (drain) + restart until every hub is back
  storm_peak_connects_per_s     the busiest second of that storm (bounded by admission)

The relay runs in its own process (its RSS is what is measured); idle hubs are minimal tunnel
clients in two helper processes, bound to several 127.0.7.x source addresses. Each process has
a file-descriptor limit, so the tunnel count is capped a little below it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relay import protocol as p  # noqa: E402

RELAY_HOST = "127.0.7.1"
SOURCES = ["127.0.7.11", "127.0.7.12", "127.0.7.13", "127.0.7.14"]
CLIENT_PROCS = 2


# ---------------------------------------------------------------------- relay process
def relay_main(data_dir: str, port: int, spread: float, heartbeat_s: float) -> None:
    """Run a relay node until SIGTERM (drain first), printing its port."""
    from relay import RelayConfig, RelayServer
    from relay.cli import quiet_accept_errors

    async def run() -> None:
        # 0 means the relay's own default: the cost of heartbeats is part of what is measured.
        heartbeat = {"heartbeat_s": heartbeat_s} if heartbeat_s else {}
        config = RelayConfig(
            data_dir=Path(data_dir),
            host=RELAY_HOST,
            port=port,
            allow_signup=True,
            **heartbeat,
            admit_rate=2000.0,
            admit_burst=500.0,
            pending_per_address=0,  # every simulated hub dials from this one address
            new_hubs_per_address_per_min=1e9,
            drain_spread_s=spread,
            account_rate=100_000.0,
            account_burst=100_000.0,  # latency, not limits
        )
        server = RelayServer(config)
        quiet_accept_errors(asyncio.get_running_loop())
        await server.start()
        print(json.dumps({"port": server.port, "heartbeat_s": config.heartbeat_s}), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        t0 = time.monotonic()
        await server.drain()
        t1 = time.monotonic()
        await server.stop()
        print(f"# drain {t1 - t0:.2f}s stop {time.monotonic() - t1:.2f}s", file=sys.stderr)

    asyncio.run(run())


def start_relay(
    data_dir: str, port: int = 0, spread: float = 5.0, heartbeat_s: float = 0.0
) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--relay", data_dir, str(port), str(spread), str(heartbeat_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = json.loads(proc.stdout.readline())
    RELAY_INFO["heartbeat_s"] = float(line["heartbeat_s"])
    return proc, int(line["port"])


RELAY_INFO: dict[str, float] = {}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------- minimal hub clients
class MiniHub(asyncio.Protocol):
    """An idle hub: WebSocket upgrade, signed auth, welcome, then nothing but staying open."""

    def __init__(self, owner: HubFleet, key: Any, public: str) -> None:
        self.owner = owner
        self.key = key
        self.public = public
        self.buf = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.retry_hint: float | None = None
        self.drain_hint: float | None = None
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /v1/hub/connect HTTP/1.1\r\nHost: {RELAY_HOST}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end], self.buf[end + 4 :]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                retry = 1.0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"retry-after:"):
                        retry = float(line.split(b":", 1)[1])
                self.retry_hint = retry
                self._finish(False)
                return
            self.upgraded = True
        while True:
            frame = self._frame()
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 8:  # close
                self._finish(False)
                return
            if opcode != 1:
                continue
            msg = p.decode(payload)
            if isinstance(msg, p.Challenge):
                sig = self.key.sign(p.auth_payload(msg.nonce, self.public))
                self._send(p.encode(p.Auth(self.public, p.b64(sig))))
            elif isinstance(msg, p.Welcome):
                self.owner.welcomed(self, msg.heartbeat_s)
                if not self.done.done():
                    self.done.set_result(True)
            elif isinstance(msg, p.Drain):
                self.drain_hint = msg.reconnect_after_s
            elif isinstance(msg, p.Ping):
                self._send(p.encode(p.Pong(msg.ts)))
            elif isinstance(msg, p.Pong):
                self.owner.pongs += 1

    def ping(self) -> None:
        """One heartbeat, as the hub's relay link sends it."""
        if self.transport is not None and not self.transport.is_closing():
            self._send(p.encode(p.Ping(time.time())))

    def _frame(self) -> tuple[int, bytes] | None:
        b = self.buf
        if len(b) < 2:
            return None
        opcode, n, pos = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < pos + n:
            return None
        self.buf = b[pos + n :]
        return opcode, b[pos : pos + n]

    def _send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        assert self.transport is not None
        self.transport.write(head + mask + masked)

    def _finish(self, ok: bool) -> None:
        if not self.done.done():
            self.done.set_result(ok)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upgraded and self.done.done() and self.done.result():
            self.owner.lost(self)
        if not self.done.done():
            self.done.set_result(False)


class HubFleet:
    """Many MiniHubs, each reconnecting with the hub's own ReconnectLogic."""

    def __init__(self, port: int, count: int, sources: list[str]) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.port = port
        self.count = count
        self.sources = sources
        self.keys = []
        for _ in range(count):
            k = Ed25519PrivateKey.generate()
            self.keys.append(
                (k, p.b64(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)))
            )
        self.connected = 0
        self.connects_total = 0
        self.live: set[MiniHub] = set()
        self.heartbeat_s = 0.0
        self.pongs = 0
        # A hub has one connection attempt at a time; a fleet of them has a bounded number in
        # progress, as a NAT or a real population would, instead of a SYN flood.
        self.connecting = asyncio.Semaphore(200)

    def welcomed(self, hub: MiniHub, heartbeat_s: float) -> None:
        self.connected += 1
        self.connects_total += 1
        self.live.add(hub)
        self.heartbeat_s = heartbeat_s

    def lost(self, hub: MiniHub) -> None:
        self.connected -= 1
        self.live.discard(hub)

    async def heartbeats(self) -> None:
        """Ping every live tunnel once per heartbeat, spread evenly over the interval (the
        real hubs' pings are spread by when they connected)."""
        while True:
            interval = self.heartbeat_s or 1.0
            hubs = list(self.live)
            if not hubs:
                await asyncio.sleep(interval)
                continue
            batch = 50
            # Spread over the fleet's size, not over the hubs live at this instant: a pass
            # that starts while only a few hubs are up would otherwise sleep a whole
            # interval after pinging them and leave the rest silent for that long.
            pause = interval / max(1, max(len(hubs), self.count) // batch + 1)
            for start in range(0, len(hubs), batch):
                for hub in hubs[start:start + batch]:
                    hub.ping()
                await asyncio.sleep(pause)

    async def keep(self, i: int) -> None:
        from hub.relay_link.reconnect import ReconnectLogic

        logic = ReconnectLogic(base_s=1.0, cap_s=30.0)
        loop = asyncio.get_running_loop()
        key, public = self.keys[i]
        src = self.sources[i % len(self.sources)]
        while True:
            delay = logic.next_delay()
            if delay:
                await asyncio.sleep(delay)
            proto: MiniHub | None = None
            try:
                async with self.connecting, asyncio.timeout(30):
                    _, proto = await loop.create_connection(
                        lambda: MiniHub(self, key, public),
                        RELAY_HOST,
                        self.port,
                        local_addr=(src, 0),
                    )
                    ok = await proto.done
            except (OSError, TimeoutError):
                ok = False
                if proto is not None and proto.transport is not None:
                    proto.transport.abort()
            if not ok:
                logic.failed()
                if proto is not None and proto.retry_hint is not None:
                    logic.hint(proto.retry_hint + random.uniform(0, 1.0))
                continue
            logic.connected()
            assert proto is not None
            assert proto.transport is not None
            closed = loop.create_future()
            orig = proto.connection_lost

            def on_lost(exc: Exception | None, orig: Any = orig, closed: Any = closed) -> None:
                orig(exc)
                if not closed.done():
                    closed.set_result(None)

            proto.connection_lost = on_lost  # type: ignore[method-assign]
            await closed
            logic.failed()
            if proto.drain_hint is not None:
                logic.hint(proto.drain_hint)


async def fleet_main(port: int, count: int, sources: list[str]) -> None:
    """Keep `count` idle tunnels up; print progress every second."""
    fleet = HubFleet(port, count, sources)
    tasks = [asyncio.create_task(fleet.heartbeats())]
    for i in range(count):
        tasks.append(asyncio.create_task(fleet.keep(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.1)  # ~500 new hubs a second per fleet
    while True:
        print(
            json.dumps(
                {"t": time.time(), "connected": fleet.connected, "total": fleet.connects_total,
                 "pongs": fleet.pongs}
            ),
            flush=True,
        )
        await asyncio.sleep(0.5)


class FleetProc:
    """A helper process running a HubFleet; reads its progress lines in a thread."""

    def __init__(self, port: int, count: int, sources: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--fleet", str(port), str(count), ",".join(sources)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.samples: list[dict[str, Any]] = []

    async def pump(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.to_thread(self.proc.stdout.readline)
            if not line:
                return
            self.samples.append(json.loads(line))

    @property
    def last(self) -> dict[str, Any]:
        return self.samples[-1] if self.samples else {"connected": 0, "total": 0, "t": 0}

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


# ---------------------------------------------------------------------- measurements
async def bench_latency(relay_url: str, tmp: Path, rate: float, seconds: float) -> dict[str, float]:
    """Same GET direct to the hub and through the relay, interleaved at a fixed rate."""
    import httpx

    from hub.relay_link import ReconnectLogic, RelayLink
    from hub.testing import running_hub
    from integrations.virtual.integration import VirtualIntegration, demo_devices

    link = RelayLink(relay_url, reconnect=ReconnectLogic(base_s=0.1, cap_s=1.0))
    async with running_hub(
        tmp / "hub",
        [VirtualIntegration(demo_devices())],
        config={"api_host": "127.0.7.2"},
        components=[link],
    ) as rh:
        await rh.hub.wait_integrations()
        await link.wait_connected(30)
        async with httpx.AsyncClient(base_url=relay_url, timeout=10) as phone:
            creds = {"email": "bench@example.org", "password": "bench password 1"}
            await phone.post("/v1/accounts", json=creds)
            token = (await phone.post("/v1/sessions", json=creds)).json()["token"]
            phone.headers["Authorization"] = f"Bearer {token}"
            code = (await rh.client.post("/api/v1/relay/claim-code")).json()["code"]
            hub_id = (await phone.post("/v1/hubs/claim", json={"code": code})).json()["hub_id"]
            direct_path = "/api/v1/devices/virtual-lamp"
            relay_path = f"/v1/hubs/{hub_id}/api/devices/virtual-lamp"
            for _ in range(50):  # warm up both paths
                await rh.client.get(direct_path)
                await phone.get(relay_path)
            direct: list[float] = []
            relayed: list[float] = []
            interval = 1.0 / rate
            next_at = time.perf_counter()
            n = int(rate * seconds)
            for i in range(n):
                next_at += interval
                client, path, out = (
                    (rh.client, direct_path, direct) if i % 2 == 0 else (phone, relay_path, relayed)
                )
                t0 = time.perf_counter()
                r = await client.get(path)
                out.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return {
        "direct_p50_ms": _pct(direct, 50),
        "relay_p50_ms": _pct(relayed, 50),
        "added_p50_ms": _pct(relayed, 50) - _pct(direct, 50),
        "added_p99_ms": _pct(relayed, 99) - _pct(direct, 99),
    }


def _pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if q < 100
        else max(values)
    )


async def wait_connected(fleets: list[FleetProc], want: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(f.last["connected"] for f in fleets) >= want:
            return True
        await asyncio.sleep(0.2)
    return False


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Each process holds one fd per tunnel; leave room for the relay's own files.
    per_process_max = hard - 400
    target = min(args.tunnels, per_process_max)
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    # Spread the drain so that returning hubs arrive at about what one node admits per second.
    args.spread = args.spread or max(5.0, target / 1000)
    relay, port = start_relay(str(tmp / "relay"), spread=args.spread,
                              heartbeat_s=args.heartbeat_s)
    url = f"http://{RELAY_HOST}:{port}"
    results: dict[str, Any] = {}
    fleets: list[FleetProc] = []
    pumps: list[asyncio.Task[None]] = []
    try:
        results.update(await bench_latency(url, tmp, args.rate, args.seconds))
        if args.latency_only:
            _report(results)
            return
        await asyncio.sleep(1.0)
        base_rss = rss_kb(relay.pid)
        per = [
            target // CLIENT_PROCS + (1 if i < target % CLIENT_PROCS else 0)
            for i in range(CLIENT_PROCS)
        ]
        for i, count in enumerate(per):
            fleets.append(FleetProc(port, count, SOURCES[i::CLIENT_PROCS]))
        pumps = [asyncio.create_task(f.pump()) for f in fleets]
        t0 = time.monotonic()
        await wait_connected(fleets, target, args.connect_timeout)
        held = sum(f.last["connected"] for f in fleets)
        await asyncio.sleep(2.0)
        rss = rss_kb(relay.pid)
        results["tunnels"] = held
        results["tunnels_connect_s"] = round(time.monotonic() - t0, 1)
        results["relay_rss_mb"] = round(rss / 1024, 1)
        results["kb_per_tunnel"] = round((rss - base_rss) / max(held, 1), 2)
        # Idle cost with heartbeats running: the relay's CPU over one heartbeat interval (a
        # part of it with --quick; pings are spread evenly over the interval).
        heartbeat = RELAY_INFO["heartbeat_s"]
        window = min(heartbeat, 5.0) if args.quick else heartbeat
        proc = psutil.Process(relay.pid)
        pongs_before = sum(f.last.get("pongs", 0) for f in fleets)
        cpu_before, t_before = sum(proc.cpu_times()[:2]), time.monotonic()
        await asyncio.sleep(window)
        cpu = sum(proc.cpu_times()[:2]) - cpu_before
        results["heartbeat_s"] = heartbeat
        results["relay_idle_cpu_pct"] = round(100 * cpu / (time.monotonic() - t_before), 2)
        # Every tunnel pings once per interval, so a pong must arrive within one interval
        # (plus the half-second progress lag) after the CPU window, whatever its length.
        deadline = time.monotonic() + heartbeat + 2.0
        while sum(f.last.get("pongs", 0) for f in fleets) <= pongs_before:
            if time.monotonic() > deadline:
                raise SystemExit("no heartbeat was answered while the tunnels were idle")
            await asyncio.sleep(0.25)

        # Reconnect storm: SIGTERM (drain), restart on the same port, wait for everyone.
        totals_before = sum(f.last["total"] for f in fleets)
        t_storm = time.time()
        relay.send_signal(signal.SIGTERM)
        await asyncio.to_thread(relay.wait, 300)
        relay, _ = start_relay(str(tmp / "relay"), port=port, spread=args.spread,
                               heartbeat_s=args.heartbeat_s)
        ok = await wait_connected(fleets, held, args.storm_timeout)
        while ok and sum(f.last["total"] for f in fleets) - totals_before < held:
            await asyncio.sleep(0.2)
        t_back = max(f.last["t"] for f in fleets)
        results["storm_hubs"] = held
        results["storm_reconnect_s"] = round(t_back - t_storm, 1) if ok else "timeout"
        per_second: dict[int, int] = {}
        for f in fleets:
            prev = None
            for s in f.samples:
                if s["t"] >= t_storm and prev is not None:
                    per_second[int(s["t"])] = per_second.get(int(s["t"]), 0) + s["total"] - prev
                prev = s["total"]
        results["storm_peak_connects_per_s"] = max(per_second.values(), default=0)
    finally:
        for f in fleets:
            f.stop()
        for t in pumps:
            t.cancel()
        relay.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            relay.wait(10)
    _report(results)


def _report(results: dict[str, Any]) -> None:
    for name in (
        "tunnels",
        "kb_per_tunnel",
        "relay_rss_mb",
        "tunnels_connect_s",
        "heartbeat_s",
        "relay_idle_cpu_pct",
        "direct_p50_ms",
        "relay_p50_ms",
        "added_p50_ms",
        "added_p99_ms",
        "storm_hubs",
        "storm_reconnect_s",
        "storm_peak_connects_per_s",
    ):
        value = results.get(name)
        if value is None:
            continue
        print(f"{name}: {round(value, 3) if isinstance(value, float) else value}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--relay":
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        relay_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--fleet":
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        asyncio.run(fleet_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--tunnels", type=int, default=20_000)
        parser.add_argument("--rate", type=float, default=200.0, help="latency requests per s")
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument("--spread", type=float, default=0.0, help="drain spread (s)")
        parser.add_argument("--connect-timeout", type=float, default=150.0)
        parser.add_argument("--storm-timeout", type=float, default=180.0)
        parser.add_argument("--latency-only", action="store_true", help="skip tunnels and storm")
        parser.add_argument("--heartbeat-s", type=float, default=0.0,
                            help="relay heartbeat (default: the relay's own default)")
        parser.add_argument("--quick", action="store_true",
                            help="200 tunnels, 2 s of latency at 50 requests/s (CI)")
        parsed = parser.parse_args()
        if parsed.quick:
            parsed.tunnels, parsed.rate, parsed.seconds = 200, 50.0, 2.0
            parsed.connect_timeout, parsed.storm_timeout = 60.0, 60.0
        asyncio.run(main(parsed))
