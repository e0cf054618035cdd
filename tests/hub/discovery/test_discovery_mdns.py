"""mDNS discovery end to end: an emulated ESPHome node announces itself, DiscoveryService finds
it, the ESPHome integration adopts it; address changes and goodbyes are followed.

mDNS needs multicast, which loopback does not carry by default. The probe therefore runs in a
private network namespace whose loopback has multicast switched on; nothing leaves this machine
and the shared namespace is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mdns_netns import multicast_netns, run_probe

from hub.discovery import FoundService, esphome_device

PROBE = Path(__file__).with_name("mdns_probe.py")


@pytest.fixture
def netns() -> Iterator[str | None]:
    with multicast_netns("hh-esphome") as name:
        yield name


def test_emulated_node_is_discovered_adopted_and_followed(netns: str | None) -> None:
    events = run_probe(PROBE, netns)
    mac = next(e for e in events if e["event"] == "mac")
    key = f"esphome-{mac['mac']}"
    found = [e for e in events if e["event"] == "found" and e["key"] == key]
    assert found, events
    first = found[0]
    assert first["integration"] == "esphome"
    assert first["address"] == "127.0.0.40"
    assert first["port"] == mac["port"]
    assert first["name"] == "Garage Node"
    assert first["properties"]["version"]

    adopted = next(e for e in events if e["event"] == "adopted")
    assert adopted["devices"] == [key]
    assert adopted["online"] == {key: True}

    mover = [
        e["address"] for e in events if e["event"] == "found" and e["key"] == "esphome-02000000aa01"
    ]
    assert mover[0] == "127.0.0.45"
    assert mover[-1] == "127.0.0.46"

    assert any(
        e["event"] == "found" and e["key"] == "hub-homehub-test" and e["port"] == 8123
        for e in events
    )
    removed = {e["key"] for e in events if e["event"] == "removed"}
    assert key in removed
    assert events[-1]["event"] == "done"


def test_esphome_converter() -> None:
    found = FoundService(
        type="_esphomelib._tcp.local.",
        name="porch._esphomelib._tcp.local.",
        addresses=["127.0.0.50", "127.0.0.51"],
        port=6053,
        properties={
            "mac": "AA:BB:CC:00:11:22",
            "api_encryption": "Noise_NNpsk0",
            "board": "esp32dev",
        },
    )
    dev = esphome_device(found)
    assert dev is not None
    assert dev.key == "esphome-aabbcc001122"
    assert dev.name == "porch"
    assert dev.address == "127.0.0.50"
    assert dev.model == "esp32dev"
    assert dev.properties["encrypted"] == "yes"
    assert (
        esphome_device(
            FoundService("_esphomelib._tcp.local.", "x._esphomelib._tcp.local.", [], 6053)
        )
        is None
    )
