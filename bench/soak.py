"""Crash soak: SIGKILL the hub and the relay at random moments under a steady write load.

    .venv/bin/python bench/soak.py [--quick] [--duration 600] [--kills 24] [--seed 1]

An emulated ECHONET Lite air conditioner runs in this process (so it survives every kill and
keeps its own log of the writes it received); `homehub relay serve` and `homehub hub` (linked
to that relay and claimed by an account) run as their own processes on fixed loopback ports.
Two writers change the unit's set point all the time: one through the hub's API, one through
the relay's phone API. Each write has its own Idempotency-Key and is retried with that key,
as a careful client does, until it is answered; a 202 is an acknowledgement. Meanwhile the hub
and the relay are killed with SIGKILL at random moments and started again.

At the end both are started one last time, the relay's queue drains, and the counts come from
the hub's command log (its database), the relay's queue and the emulator's log:

  kills          SIGKILLs sent (hub + relay; target >= --kills, 20 or more in the full run)
  kills_hub      of those, the hub's
  kills_relay    of those, the relay's
  acknowledged   writes answered 202 (API and relay)
  lost           acknowledged writes the hub's command log does not hold (target 0)
  duplicated     acknowledged writes that became two commands: a retry or a repeat of the
                 same key answered with another command id, or two command-log rows for one
                 write (target 0)
  device_writes  Set requests the emulated unit received (its own log)
  converged      1 when the unit ends at the value the hub last wanted (target 1)
  load_s         seconds the writers ran

--quick: 45 s and 6 kills (CI); the default is 10 minutes and 24 kills. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from hub.cli.demo_home import demo_addresses  # noqa: E402
from hub.store import Database  # noqa: E402
from integrations.echonet.emulator import EchonetNode  # noqa: E402
from integrations.echonet.frame import Esv, Frame  # noqa: E402

OWNER = ("soak@example.org", "the soak owner's long password")
SET_POINT = 0xB3  # the air conditioner's set temperature (target_temperature on the hub)
VALUES = range(16, 31)  # set points the writers cycle through
RETRY_FOR_S = 90.0  # a write not answered within this (both processes down) is given up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ledger:
    """What the writers were told, and what the emulated unit saw."""

    # key -> (command id or None when the relay queued it, value); the hub's key is
    # "relay:<account>:<key>" for writes through the relay.
    acked: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    answers_differ: set[str] = field(default_factory=set)
    device_log: list[tuple[float, int]] = field(default_factory=list)
    given_up: int = 0


class LoggedNode(EchonetNode):
    """The emulated unit, keeping its own log: every Set of the set point it receives."""

    def __init__(self, ledger: Ledger, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger

    def _on_frame(self, frame: Frame, host: str) -> None:
        if frame.esv in (Esv.SETC, Esv.SETI):
            for prop in frame.props:
                if prop.epc == SET_POINT and prop.edt:
                    self.ledger.device_log.append((time.time(), prop.edt[0]))
        super()._on_frame(frame, host)


class Proc:
    """One product process that can be killed and started again on the same port."""

    def __init__(self, name: str, argv: list[str], ready: str, log: Path) -> None:
        self.name, self.argv, self.ready, self.log = name, argv, ready, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    async def start(self) -> None:
        out = self.log.open("ab")
        # A port just freed by a killed process can still be taken for a moment: retry.
        for _ in range(100):
            start = self.log.stat().st_size
            self.proc = await asyncio.to_thread(
                subprocess.Popen, self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                text = self.log.read_bytes()[start:].decode(errors="replace")
                if re.search(self.ready, text):
                    out.close()
                    return
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise SystemExit(f"{self.name} did not start within 60 s; see {self.log}")
            await asyncio.sleep(0.2)
        raise SystemExit(f"{self.name} kept exiting at start; see {self.log}")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait)
        self.kills += 1

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


async def put_until_answered(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], key: str, headers: dict[str, str]
) -> dict[str, Any] | None:
    """PUT with one Idempotency-Key until a 202 (None when given up or refused)."""
    deadline = time.monotonic() + RETRY_FOR_S
    while time.monotonic() < deadline:
        try:
            r = await client.put(url, json=body, headers={**headers, "Idempotency-Key": key})
        except httpx.HTTPError:
            await asyncio.sleep(0.1)  # the process is down or just died: same key again
            continue
        if r.status_code == 202:
            answer: dict[str, Any] = r.json()
            return answer
        if r.status_code in (429, 500, 502, 503, 504) or r.status_code == 404:
            # Restarting (the device not yet loaded, the hub not yet back on the relay).
            await asyncio.sleep(0.2)
            continue
        raise SystemExit(f"PUT {url} answered {r.status_code}: {r.text[:300]}")
    return None


async def run(
    *argv: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """A product command to its end (in a thread: the writers and the unit keep running)."""
    return await asyncio.to_thread(
        subprocess.run, list(argv), check=check, env=env, capture_output=True, text=True,
        cwd=ROOT,
    )  # fmt: skip


def hub_key(key: str, account_id: str) -> str:
    return f"relay:{account_id}:{key}" if key.startswith("relay-") else key


async def writer(
    name: str, client: httpx.AsyncClient, url: str, headers: dict[str, str], ledger: Ledger,
    account_id: str, stop: asyncio.Event, rng: random.Random,
) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        key = f"{name}-{i}"
        value = rng.choice(VALUES)
        body = {"values": {"target_temperature": value}}
        answer = await put_until_answered(client, url, body, key, headers)
        if answer is None:
            ledger.given_up += 1
            continue
        command_id = answer.get("command_id")
        ledger.acked[hub_key(key, account_id)] = (command_id, value)
        if rng.random() < 0.2 and command_id:
            # A client that missed the answer sends the same write again: the same command.
            again = await put_until_answered(client, url, body, key, headers)
            if again is not None and again.get("command_id") not in (None, command_id):
                ledger.answers_differ.add(hub_key(key, account_id))
        await asyncio.sleep(rng.uniform(0.02, 0.1))


async def killer(
    hub: Proc, relay: Proc, kills: int, duration: float, stop: asyncio.Event, rng: random.Random
) -> None:
    """Kill at random moments: about `kills` times in `duration`, the hub twice as often."""
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    gap = duration / kills
    for n in range(kills):
        await asyncio.sleep(rng.uniform(0.3 * gap, 1.0 * gap))
        victim = relay if n % 3 == 2 else hub
        await victim.kill()
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # down for a moment, writers retrying
        await victim.start()
    await asyncio.sleep(max(0.0, end - loop.time()))  # the load runs the whole duration
    stop.set()


async def login(client: httpx.AsyncClient) -> tuple[str, str]:
    r = await client.post("/v1/sessions", json={"email": OWNER[0], "password": OWNER[1]})
    r.raise_for_status()
    return r.json()["account_id"], r.json()["token"]


async def main_async(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    ledger = Ledger()
    py = sys.executable
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="homehub-soak-")))
        at = stack.enter_context(demo_addresses())
        relay_dir, hub_dir = tmp / "relay", tmp / "hub"
        relay_dir.mkdir()
        hub_dir.mkdir()
        relay_port, hub_port = free_port(), free_port()
        relay_url, hub_url = f"http://127.0.0.1:{relay_port}", f"http://127.0.0.1:{hub_port}"
        (hub_dir / "homehub.toml").write_text(
            f'[api]\nadvertise = false\n[relay]\nurl = "ws://127.0.0.1:{relay_port}"\n'
            f'[integrations.echonet]\nbind = "{at.echonet_hub}"\nhosts = ["{at.echonet_node}"]\n'
            "multicast = false\npoll_interval_s = 5.0\n"
        )
        unit = LoggedNode(ledger, bind=at.echonet_node, objects=["aircon"])
        await unit.start()

        env = {**os.environ, "HOMEHUB_RELAY_PASSWORD": OWNER[1]}
        await run(py, "-m", "relay", "account", "create", OWNER[0], "--data-dir", str(relay_dir),
                  env=env)  # fmt: skip
        relay = Proc("relay", [py, "-m", "relay", "serve", "--data-dir", str(relay_dir),
                               "--host", "127.0.0.1", "--port", str(relay_port)],
                     r"relay listening on", tmp / "relay.log")  # fmt: skip
        hub = Proc("hub", [py, "-m", "hub.cli.main", "hub", "--data-dir", str(hub_dir),
                           "--host", "127.0.0.1", "--port", str(hub_port)],
                   r"serving http://", tmp / "hub.log")  # fmt: skip
        try:
            await relay.start()
            # The token is made before the hub starts: a running hub keeps the tokens it read.
            db = Database(hub_dir / "homehub.db")
            await db.open()
            await db.close()
            token = (await run(py, "-m", "hub.cli.main", "token", "create", "soak",
                               "--data-dir", str(hub_dir))).stdout.split()[1]  # fmt: skip
            await hub.start()
            code = ""
            for _ in range(100):
                done = await run(py, "-m", "hub.cli.main", "relay-code", "--data-dir",
                                 str(hub_dir), check=False)  # fmt: skip
                if done.returncode == 0:
                    code = done.stdout.split()[0]
                    break
                await asyncio.sleep(0.2)
            assert code, f"no claim code: {done.stderr}"
            async with httpx.AsyncClient(base_url=relay_url, timeout=10) as phone:
                account_id, session = await login(phone)
                r = await phone.post("/v1/hubs/claim", json={"code": code},
                                     headers={"Authorization": f"Bearer {session}"})
                r.raise_for_status()
                hub_id = r.json().get("hub_id") or r.json()["id"]
            api_headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=hub_url, headers=api_headers, timeout=10) as c:
                device = ""
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        listed = (await c.get("/api/v1/devices")).json()
                        assert "devices" in listed, listed
                        for d in listed["devices"]:
                            if any(p["name"] == "target_temperature" for p in d["properties"]):
                                device = d["id"]
                    if device:
                        break
                    await asyncio.sleep(0.1)
                assert device, f"the hub never found the emulated air conditioner: {listed}"

            stop = asyncio.Event()
            phone_headers = {"Authorization": f"Bearer {session}"}
            async with (
                httpx.AsyncClient(base_url=hub_url, timeout=10) as api,
                httpx.AsyncClient(base_url=relay_url, timeout=10) as phone,
            ):
                tasks = [
                    asyncio.create_task(writer(
                        "api", api, f"/api/v1/devices/{device}/desired", api_headers, ledger,
                        account_id, stop, random.Random(rng.random()))),
                    asyncio.create_task(writer(
                        "relay", phone, f"/v1/hubs/{hub_id}/devices/{device}/desired",
                        phone_headers, ledger, account_id, stop, random.Random(rng.random()))),
                ]  # fmt: skip
                load_started = time.monotonic()
                await killer(hub, relay, args.kills, args.duration, stop, rng)
                await asyncio.gather(*tasks)
                load_s = round(time.monotonic() - load_started)

                # Everything the relay queued reaches the hub once both are up.
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    with contextlib.suppress(httpx.HTTPError):
                        q = (await phone.get(f"/v1/hubs/{hub_id}/queue",
                                             headers=phone_headers)).json()["queue"]
                        if not any(item["status"] == "queued" for item in q):
                            break
                    await asyncio.sleep(0.5)
            # The unit settles on what the hub wants last (its apply loop), then both stop.
            wanted = None
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(base_url=hub_url, headers=api_headers, timeout=10) as c:
                while time.monotonic() < deadline:
                    d = (await c.get(f"/api/v1/devices/{device}")).json()
                    wanted = d["shadow"]["reported"].get("target_temperature", {}).get("value")
                    if not d["shadow"].get("desired") and wanted == unit.object(
                        "aircon").values[SET_POINT][0]:
                        break
                    await asyncio.sleep(0.5)
        finally:
            await hub.stop()
            await relay.stop()
            await unit.stop()

        log = sqlite3.connect(hub_dir / "homehub.db")  # the hub's command log
        rows: dict[str, list[str]] = {}
        for cid, key in log.execute("SELECT id, idempotency_key FROM commands"):
            rows.setdefault(key, []).append(cid)
        log.close()
        lost = duplicated = 0
        for key, (command_id, _) in ledger.acked.items():
            ids = rows.get(key, [])
            if not ids:
                lost += 1
            elif len(ids) > 1 or key in ledger.answers_differ or (
                command_id is not None and ids[0] != command_id
            ):
                duplicated += 1
        converged = int(
            wanted is not None and unit.object("aircon").values[SET_POINT][0] == wanted
        )
        kills = hub.kills + relay.kills
        figures = {
            "kills": kills,
            "kills_hub": hub.kills,
            "kills_relay": relay.kills,
            "acknowledged": len(ledger.acked),
            "lost": lost,
            "duplicated": duplicated,
            "given_up": ledger.given_up,
            "device_writes": len(ledger.device_log),
            "converged": converged,
        }
        figures["load_s"] = load_s
        for name, value in figures.items():
            print(f"{name}: {value}", flush=True)
        failed = [
            name for name, bad in (
                ("kills", kills < args.kills), ("lost", lost > 0),
                ("duplicated", duplicated > 0), ("converged", not converged),
                ("acknowledged", len(ledger.acked) < 10 * kills),
            ) if bad
        ]  # fmt: skip
        if failed:
            print("missed targets: " + ", ".join(failed), file=sys.stderr)
            if args.keep_logs:
                print(json.dumps({"hub_log": (tmp / "hub.log").read_text()[-3000:]}))
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="45 s, 6 kills (CI)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--kills", type=int, default=24, help="SIGKILLs to send (>= 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--keep-logs", action="store_true", help="print the hub's log tail")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.kills = 45.0, 6
    if args.seed is None:
        args.seed = int(time.time())
    print(f"seed: {args.seed}", flush=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
