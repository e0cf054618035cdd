"""MQTT integration figures against a private Mosquitto on loopback.

    python bench/mqtt.py [--quick]

Prints:
- mqtt_state_to_hub_p50_ms / _p99_ms: an emulated Zigbee2MQTT sensor publishes a new reading ->
  the hub's event bus carries the state_changed event (targets 5 and 20 ms),
- devices_1000_setup_s: 1,000 devices in one `zigbee2mqtt/bridge/devices` message -> all 1,000
  listed by GET /api/v1/devices (adopt = "auto"; target 3 s).
Uses its own mosquitto on a free port (127.0.0.1:1883 when the binary is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.app import Hub  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.events import DeviceAdded, StateChanged  # noqa: E402
from integrations.mqtt.broker import MosquittoBroker, mosquitto_binary  # noqa: E402
from integrations.mqtt.emulators.zigbee2mqtt import Zigbee2MqttBridge, ZigbeeDevice  # noqa: E402
from integrations.mqtt.integration import MqttIntegration  # noqa: E402


def _hub(data_dir: Path, host: str, port: int, base: str) -> Hub:
    section = {"host": host, "port": port, "families": ["zigbee2mqtt"],
               "zigbee2mqtt_topic": base, "adopt": "auto"}
    config = HubConfig(data_dir=data_dir, api_host="127.0.0.1", api_port=0, advertise=False,
                       log_level="WARNING", integrations={"mqtt": section})
    return Hub(config, integrations=[MqttIntegration()])


async def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def latency(workdir: Path, host: str, port: int, samples: int) -> list[float]:
    """Milliseconds from a sensor's publish to the hub's state_changed event."""
    base = "bench-latency/zigbee2mqtt"
    sensors = [(f"sensor_{i}", "climate_sensor") for i in range(20)]
    bridge = Zigbee2MqttBridge(_settings(host, port), base, sensors)
    hub = _hub(workdir / "latency", host, port, base)
    await hub.start()
    seen: dict[str, asyncio.Event] = {}

    def on_state(event: StateChanged) -> None:
        waiter = seen.get(event.device)
        if waiter is not None and "temperature" in event.changes:
            waiter.set()

    hub.bus.subscribe(on_state, [StateChanged])
    try:
        await bridge.start()
        await _wait(lambda: len(hub.registry.devices) == len(sensors), 30, "the sensors")
        ids = {d.description.extra["friendly_name"]: d.id for d in hub.registry.devices.values()}
        await _wait(lambda: all(d.online for d in hub.registry.devices.values()), 30, "online")
        out: list[float] = []
        for i in range(samples):
            name = sensors[i % len(sensors)][0]
            waiter = seen[ids[name]] = asyncio.Event()
            t0 = time.perf_counter()
            await bridge.change(name, temperature=round(15 + (i % 100) * 0.1, 1) + 0.05)
            await asyncio.wait_for(waiter.wait(), 5)
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        await bridge.clear()
        await bridge.stop()
        await hub.stop()


async def setup_time(workdir: Path, host: str, port: int, count: int) -> float:
    """Seconds from publishing a `count`-device list to all of them listed by the API."""
    base = "bench-setup/zigbee2mqtt"
    kinds = ["bulb", "plug", "climate_sensor", "door", "motion", "thermostat"]
    entries = [ZigbeeDevice(f"device_{i}", f"0x00158d0002{i:06x}", kinds[i % len(kinds)],
                            {}).entry() for i in range(count)]
    hub = _hub(workdir / "setup", host, port, base)
    await hub.start()
    _, token = await hub.auth.create_token("bench")
    try:
        async with aiomqtt.Client(host, port) as client, httpx.AsyncClient(
                base_url=hub.url, headers={"Authorization": f"Bearer {token}"},
                timeout=30) as api:
            await client.publish(f"{base}/bridge/state", b'{"state":"online"}', qos=1,
                                 retain=True)
            payload = json.dumps(entries).encode()
            added: set[str] = set()
            all_added = asyncio.Event()

            def on_added(event: DeviceAdded) -> None:
                added.add(event.device)
                if len(added) >= count:
                    all_added.set()

            # Wait on the hub's own events, then ask the API once: polling a growing list of
            # 1,000 devices every few ms would load the hub's loop and time the poller.
            unsubscribe = hub.bus.subscribe(on_added, [DeviceAdded])
            t0 = time.perf_counter()
            await client.publish(f"{base}/bridge/devices", payload, qos=1, retain=True)
            try:
                await asyncio.wait_for(all_added.wait(), 120)
            finally:
                unsubscribe()
            body = (await api.get("/api/v1/devices")).json()
            elapsed = time.perf_counter() - t0
            if len(body["devices"]) < count:
                raise SystemExit(f"only {len(body['devices'])} of {count} devices listed")
            for topic in ("state", "devices"):
                await client.publish(f"{base}/bridge/{topic}", b"", qos=1, retain=True)
            return elapsed
    finally:
        await hub.stop()


def _settings(host: str, port: int) -> Any:
    from integrations.mqtt.config import BrokerSettings

    return BrokerSettings(host=host, port=port)


async def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="homehub-bench-mqtt-") as tmp:
        workdir = Path(tmp)
        broker: MosquittoBroker | None = None
        host, port = "127.0.0.1", 1883
        if mosquitto_binary() is not None:
            broker = MosquittoBroker(workdir / "mosquitto")
            await broker.start()
            host, port = broker.host, broker.port
        try:
            samples = await latency(workdir, host, port, 300 if quick else 3000)
            setup = await setup_time(workdir, host, port, 1000)
        finally:
            if broker is not None:
                await broker.stop()
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"mqtt_state_to_hub_samples: {len(samples)}")
    print(f"mqtt_state_to_hub_p50_ms: {statistics.median(samples):.2f}")
    print(f"mqtt_state_to_hub_p99_ms: {p99:.2f}")
    print(f"devices_1000_setup_s: {setup:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer latency samples (CI)")
    asyncio.run(main(parser.parse_args().quick))
