"""Crash safety: a hub process killed with SIGKILL loses nothing it acknowledged."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

import httpx
from hub_process import VIRTUAL_CONFIG, create_token, start_hub


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    (tmp_path / "homehub.toml").write_text(VIRTUAL_CONFIG)
    token = await create_token(tmp_path, "crash-test")
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(os.getpid())
    acknowledged: dict[str, int] = {}

    proc, url = await start_hub(tmp_path)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5) as client:
        while not (await client.get("/api/v1/devices")).json()["devices"]:
            await asyncio.sleep(0.05)

        async def writer(n: int) -> None:
            for i in range(10_000):
                value = (n * 37 + i) % 101
                try:
                    r = await client.put(
                        "/api/v1/devices/virtual-lamp/desired",
                        json={"values": {"brightness": value}},
                        headers={"Idempotency-Key": f"w{n}-{i}"},
                    )
                except httpx.HTTPError:
                    return  # the hub died mid-request: not acknowledged
                if r.status_code == 202:
                    acknowledged[r.json()["command_id"]] = value

        writers = [asyncio.create_task(writer(n)) for n in range(4)]
        # Kill mid-stream: once writes are being acknowledged (however slow the machine is),
        # at a random moment after that, not after a fixed time that a loaded box may miss.
        deadline = asyncio.get_running_loop().time() + 60
        while len(acknowledged) < 25:
            assert asyncio.get_running_loop().time() < deadline, "no writes acknowledged"
            assert not all(w.done() for w in writers), "the writers stopped early"
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.gather(*writers)
    assert len(acknowledged) > 20, "the hub should have acknowledged writes before the kill"

    proc, url = await start_hub(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5) as client:
            missing = []
            for command_id, value in acknowledged.items():
                r = await client.get(f"/api/v1/commands/{command_id}")
                if r.status_code != 200:
                    missing.append(command_id)
                else:
                    assert r.json()["request"]["values"] == {"brightness": value}
            assert missing == [], f"{len(missing)} acknowledged writes lost"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
