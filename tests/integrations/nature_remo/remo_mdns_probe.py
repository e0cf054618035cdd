"""Runs inside a private network namespace (see test_remo_mdns.py) and prints JSON events.

Not a test module: mDNS needs multicast, and loopback multicast must not be switched on in the
shared namespace. A real hub browses `_remo._tcp` through its LanDiscovery component.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ir_codes
from hub.discovery.component import LanDiscovery
from hub.testing import running_hub
from integrations.nature_remo import NatureRemoIntegration, RemoEmulator, RemoSignal, remo_device_id

IFACE = ["127.0.0.1"]
NAMED, OTHER = "Remo-9F00AA", "Remo-5E11E0"


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


async def until(cond: Callable[[], Any], what: str, timeout: float = 25.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await cond()
        if result:
            return result
        if time.monotonic() > deadline:
            emit("timeout", what=what)
            raise SystemExit(1)
        await asyncio.sleep(0.1)


def remo(bind: str, instance: str) -> RemoEmulator:
    return RemoEmulator(bind, 0, instance=instance, advertise=True, mdns_interfaces=IFACE)


async def main(data_dir: Path) -> None:
    named, other = remo("127.0.0.82", NAMED), remo("127.0.0.83", OTHER)
    await named.start()
    await other.start()
    config = {"integrations": {"nature_remo": {
        "poll_interval": 0.5,
        "devices": [{"id": "den-tv", "name": "Den TV", "blaster": NAMED,
                     "profile": {"kind": "tv", "commands": {}}}],
    }}}
    async with running_hub(data_dir, [NatureRemoIntegration()], config,
                           components=[LanDiscovery(IFACE)]) as rh:
        client = rh.client

        async def device(dev_id: str) -> Any:
            resp = await client.get(f"/api/v1/devices/{dev_id}")
            return resp.json() if resp.status_code == 200 else None

        async def discovered() -> list[dict[str, Any]]:
            return list((await client.get("/api/v1/discovered")).json()["discovered"])

        # 1. the Remo an IR device names is taken at once; the other waits for adoption
        named_id, other_id = remo_device_id(NAMED), remo_device_id(OTHER)
        body = await until(lambda: _online(device(named_id)), "the named Remo online")
        emit("named", address=body["address"], port=named.port)
        offer = await until(lambda: _find(discovered(), other_id), "the other Remo offered")
        emit("offered", **{k: offer[k] for k in ("key", "name", "address", "port")},
             port_expected=other.port, listed=[d["key"] for d in await discovered()])
        resp = await client.post(f"/api/v1/discovered/{other_id}/adopt",
                                 json={"name": "Hall Remo", "room": "Hall"})
        emit("adopt", status=resp.status_code)
        body = await until(lambda: _online(device(other_id)), "the adopted Remo online")
        emit("adopted", name=body["name"], room=body["room"])

        # 2. learn through the adopted Remo, save it on the TV, send it through the named one
        resp = await client.post("/api/v1/ir/learn", json={"blaster_id": other_id,
                                                           "timeout_s": 20})
        path = f"/api/v1/ir/learn/{resp.json()['session_id']}"
        await asyncio.sleep(0.5)
        other.hear(RemoSignal(38, ir_codes.encode("NEC", 0x04, 0x55).timings_us))
        session = await until(lambda: _ended(client.get(path)), "the capture")
        emit("learned", state=session["state"], code=session["code"])
        resp = await client.post(f"{path}/save", json={"device_id": "den-tv",
                                                       "command": "netflix"})
        emit("saved", status=resp.status_code)
        await _send(client, "den-tv", "netflix")
        code = ir_codes.decode(named.sent[-1].raw())
        emit("sent", protocol=code.protocol, address=code.address, command=code.command)

        # 3. the named Remo gets a new address (DHCP): the hub follows its announcement
        await named.stop()
        moved = remo("127.0.0.84", NAMED)
        await moved.start()
        body = await until(lambda: _at(device(named_id), "127.0.0.84"), "the move followed")
        await until(lambda: _online(device("den-tv")), "the TV online again")
        status = await _send(client, "den-tv", "netflix")
        emit("moved", address=body["address"], status=status, sent=len(moved.sent))
        await moved.stop()
    await other.stop()
    emit("done")


async def _online(coro: Any) -> Any:
    body = await coro
    return body if body and body["online"] else None


async def _at(coro: Any, address: str) -> Any:
    body = await coro
    return body if body and body["address"] == address else None


async def _find(coro: Any, key: str) -> Any:
    return next((d for d in await coro if d["key"] == key), None)


async def _ended(coro: Any) -> Any:
    body = (await coro).json()
    return body if body["state"] != "waiting" else None


async def _send(client: Any, device_id: str, command: str) -> str:
    resp = await client.post(f"/api/v1/devices/{device_id}/commands/{command}", json={})
    path = f"/api/v1/commands/{resp.json()['command_id']}"

    async def done() -> Any:
        body = (await client.get(path)).json()
        return body if body["status"] in ("sent", "confirmed", "failed", "expired") else None

    return str((await until(done, f"{command} on {device_id}"))["status"])


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="remo-mdns-") as tmp:
        try:
            asyncio.run(asyncio.wait_for(main(Path(tmp)), 100))
        except TimeoutError:
            emit("timeout", what="overall")
            sys.exit(1)
