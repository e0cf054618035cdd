"""The hub's mDNS announcement really passes through zeroconf and the TUI finds it.

mDNS needs multicast, which loopback does not carry by default. As root, the test runs a probe
in a private network namespace whose loopback has multicast switched on (the approach of
tests/hub/discovery); nothing leaves the machine and the shared namespace is untouched.
Elsewhere it skips. With HOMEHUB_MDNS_HERE=1 the probe runs in the current namespace instead,
for a namespace you prepared yourself, e.g. without root:

    unshare -rn sh -c 'ip link set lo up && ip link set lo multicast on &&
        HOMEHUB_MDNS_HERE=1 .venv/bin/python -m pytest tests/tui/test_tui_mdns.py'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mdns_netns import multicast_netns, run_probe

from tui.browse import hub_from_service

PROBE = Path(__file__).with_name("tui_mdns_probe.py")


@pytest.fixture
def netns() -> Iterator[str | None]:
    with multicast_netns("hh-tui") as name:
        yield name


def test_tui_finds_the_hub_over_mdns(netns: str | None) -> None:
    events = run_probe(PROBE, netns)
    by = {e["event"]: e for e in events}
    hub = by["hub"]
    found = [e for e in events if e["event"] == "found"]
    assert len(found) == 1, events
    assert found[0] == {"event": "found", "name": "Test flat", "url": hub["url"],
                        "hub_id": hub["hub_id"], "api": "1"}
    assert by["health"]["hub_id"] == hub["hub_id"]
    assert by["picker"]["option"] == f"Test flat  {hub['url']}"
    assert by["tui"]["url"] == hub["url"]
    assert by["tui"]["devices"] == ["virtual-heater", "virtual-lamp", "virtual-motion"]
    assert "removed" in by
    assert events[-1]["event"] == "done"


def test_hub_from_service() -> None:
    name = "Kitchen hub._homehub._tcp.local."
    hub = hub_from_service(name, ["127.0.0.5"], 8470, {"id": "hub_1", "api": "1"})
    assert hub is not None
    assert (hub.name, hub.url, hub.hub_id, hub.api_version) == (
        "Kitchen hub", "http://127.0.0.5:8470", "hub_1", "1"
    )
    assert hub_from_service(name, [], 8470, {}) is None
    v6 = hub_from_service(name, ["fe80::1"], 8470, {"name": "Hub"})
    assert v6 is not None and v6.url == "http://[fe80::1]:8470"
