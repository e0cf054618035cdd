"""IR learning through the hub API, with the real `broadlink` library and the RM emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.testing import running_hub
from integrations.broadlink.captures import nec_packet
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration

ADDR = "127.0.0.36"


async def poll(client, url: str, until: set[str], timeout: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await client.get(url)).json()
        if body["state"] in until or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_learn_then_send_a_named_command(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator(ADDR, port=0, name="Shelf RM4")
    await emulator.start()
    try:
        config = {
            "broadlink": {
                "hosts": [f"{ADDR}:{emulator.port}"],
                "devices": [{"id": "tv", "name": "TV", "blaster": ADDR,
                             "profile": {"commands": {}}}],
            }
        }
        integration = BroadlinkIntegration()
        async with running_hub(tmp_path, [integration],
                               config={"integrations": config}) as rh:
            await rh.hub.wait_integrations()
            devices = (await rh.client.get("/api/v1/devices")).json()["devices"]
            blaster = next(d for d in devices if d["id"] != "tv")
            assert {"ir_send", "ir_learn"} <= set(blaster["capabilities"])
            assert next(d for d in devices if d["id"] == "tv")["capabilities"] == []
            r = await rh.client.post("/api/v1/ir/learn",
                                     json={"blaster_id": blaster["id"], "timeout_s": 15})
            assert r.status_code == 202, r.text
            session = r.json()
            assert session["state"] == "waiting"
            url = f"/api/v1/ir/learn/{session['session_id']}"
            # A second session on the same blaster is refused while the first listens.
            again = await rh.client.post("/api/v1/ir/learn", json={"blaster_id": blaster["id"]})
            assert again.status_code == 422
            await asyncio.sleep(0.3)
            code = nec_packet(0x04, 0x08)
            emulator.press(code)  # someone presses the remote's button
            done = await poll(rh.client, url, {"captured", "failed", "timeout"})
            assert done["state"] == "captured", done
            assert (await rh.client.get("/api/v1/devices/tv")).json()["online"], "tv online"
            # The whole captured packet, decoded to the very code that was pressed.
            assert bytes.fromhex(done["code"]["broadlink_hex"]) == code
            assert (done["code"]["protocol"], done["code"]["address"],
                    done["code"]["command"]) == ("NEC", 0x04, 0x08), done["code"]
            r = await rh.client.post(f"{url}/save", json={"device_id": "tv", "command": "mute"})
            assert r.status_code == 200, r.text
            assert r.json()["saved_as"] == ["tv/mute"]
            emulator.sent.clear()
            r = await rh.client.post("/api/v1/devices/tv/commands/mute", json={})
            assert r.status_code == 202, r.text
            status_url = f"/api/v1/commands/{r.json()['command_id']}"
            for _ in range(100):
                status = (await rh.client.get(status_url)).json()
                if status["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
            assert status["status"] == "confirmed", status
            assert emulator.sent, "the blaster received the learned code"
            assert code in [bytes(x) for x in emulator.sent], "... the very packet learned"
            bad = await rh.client.post(f"{url}/save", json={"device_id": "tv", "command": "x y"})
            assert bad.status_code == 422
    finally:
        await emulator.stop()


async def test_learning_times_out_with_a_clear_state(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator("127.0.0.37", port=0)
    await emulator.start()
    try:
        config = {"broadlink": {"hosts": [f"127.0.0.37:{emulator.port}"]}}
        async with running_hub(tmp_path, [BroadlinkIntegration()],
                               config={"integrations": config}) as rh:
            await rh.hub.wait_integrations()
            blaster = (await rh.client.get("/api/v1/devices")).json()["devices"][0]
            r = await rh.client.post("/api/v1/ir/learn",
                                     json={"blaster_id": blaster["id"], "timeout_s": 2})
            url = f"/api/v1/ir/learn/{r.json()['session_id']}"
            done = await poll(rh.client, url, {"captured", "failed", "timeout"})
            assert done["state"] == "timeout", done
            assert done["remaining_s"] == 0
            assert done["reason"]
            not_blaster = await rh.client.post("/api/v1/ir/learn",
                                               json={"blaster_id": "nope"})
            assert not_blaster.status_code == 404
    finally:
        await emulator.stop()
