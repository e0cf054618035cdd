"""Nature Remos found over mDNS (`_remo._tcp`) by a real hub in a private network namespace:
one that an IR device names is taken at once, another waits for adoption through the API;
a code learned through one is sent through the other; a Remo with a new address is followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mdns_netns import multicast_netns, run_probe

from hub.discovery import FoundService, nature_remo_device

PROBE = Path(__file__).with_name("remo_mdns_probe.py")


@pytest.fixture
def netns() -> Iterator[str | None]:
    with multicast_netns("hh-remo") as name:
        yield name


def test_remos_found_adopted_learned_from_sent_through_and_followed(netns: str | None) -> None:
    events = {e["event"]: e for e in run_probe(PROBE, netns, timeout=150)}
    assert "timeout" not in events, events
    assert events["named"]["address"] == "127.0.0.82"
    offer = events["offered"]
    assert (offer["key"], offer["name"], offer["address"]) == (
        "nature_remo-remo-5e11e0", "Remo-5E11E0", "127.0.0.83"
    )
    assert offer["port"] == offer["port_expected"]
    assert "nature_remo-remo-9f00aa" not in offer["listed"]  # taken without asking
    assert events["adopt"]["status"] == 200
    assert (events["adopted"]["name"], events["adopted"]["room"]) == ("Hall Remo", "Hall")
    learned = events["learned"]
    assert learned["state"] == "captured"
    assert (learned["code"]["protocol"], learned["code"]["command"]) == ("NEC", 0x55)
    assert events["saved"]["status"] == 200
    assert (events["sent"]["protocol"], events["sent"]["address"], events["sent"]["command"]) == (
        "NEC", 0x04, 0x55
    )
    moved = events["moved"]
    assert (moved["address"], moved["status"], moved["sent"]) == ("127.0.0.84", "confirmed", 1)
    assert "done" in events


def test_remo_converter() -> None:
    found = FoundService(type="_remo._tcp.local.", name="Remo-1ABCDE._remo._tcp.local.",
                         addresses=["127.0.0.90"], port=80)
    dev = nature_remo_device(found)
    assert dev is not None
    assert (dev.key, dev.integration, dev.name, dev.address, dev.port) == (
        "nature_remo-remo-1abcde", "nature_remo", "Remo-1ABCDE", "127.0.0.90", 80
    )
    assert dev.properties["instance"] == "Remo-1ABCDE"
    assert nature_remo_device(
        FoundService(type="_remo._tcp.local.", name="x._remo._tcp.local.", addresses=[], port=80)
    ) is None
