"""Interop: pychonet, an independent ECHONET Lite client, drives our emulator over UDP.

pychonet quirks handled here: it needs an explicit local IP (it joins 224.0.23.0 on it), its
`update()` without an EPC list also asks for 0x8A and trips on a standard maker code, so we pass
explicit EPC lists; it polls its state dict with 0.1 s sleeps, so calls take a moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from echonet_testkit import wait_for

from integrations.echonet.emulator import EchonetNode

pychonet = pytest.importorskip("pychonet")
from pychonet.echonetapiclient import ECHONETAPIClient  # noqa: E402
from pychonet.GeneralLighting import GeneralLighting  # noqa: E402
from pychonet.HomeAirConditioner import HomeAirConditioner  # noqa: E402
from pychonet.lib.udpserver import UDPServer  # noqa: E402

CLIENT = "127.0.39.2"
NODE = "127.0.39.10"


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Any, EchonetNode]]:
    node = EchonetNode(bind=NODE, objects=["aircon", "meter", "light"])
    await node.start()
    udp = UDPServer(local_ip=CLIENT)
    udp.run(CLIENT, 3610, loop=asyncio.get_running_loop())
    api = ECHONETAPIClient(server=udp)
    api._logger = lambda *a, **k: None  # pychonet logs with print by default
    try:
        yield api, node
    finally:
        udp.close()
        await node.stop()


async def test_pychonet_discovers_reads_and_sets(setup: tuple[Any, EchonetNode]) -> None:
    api, node = setup
    assert await api.discover(NODE)
    await wait_for(lambda: api._state.get(NODE, {}).get("discovered"), what="discovery")
    instances = api._state[NODE]["instances"]
    assert set(instances) == {0x01, 0x02}
    assert set(instances[0x01][0x30]) == {1}
    assert set(instances[0x02][0x88]) == {1}
    assert set(instances[0x02][0x90]) == {1}

    assert await api.getAllPropertyMaps(NODE, 0x01, 0x30, 0x01)
    maps = instances[0x01][0x30][1]
    assert set(maps[0x9E]) == {0x80, 0x81, 0xA0, 0xB0, 0xB3}
    assert {0x80, 0xB0, 0xB3, 0xBA, 0xBB} <= set(maps[0x9F])

    aircon = HomeAirConditioner(NODE, api)
    values = await aircon.update([0x80, 0xB0, 0xB3, 0xBB])
    assert values == {0x80: "off", 0xB0: "cool", 0xB3: 26, 0xBB: 28}

    assert await aircon.setOperationalTemperature(20)
    assert node.object("aircon").values[0xB3] == bytes([20])
    assert await aircon.on()
    assert node.object("aircon").values[0x80] == b"\x30"
    assert await aircon.update([0x80, 0xB3]) == {0x80: "on", 0xB3: 20}


async def test_pychonet_hears_our_inf_and_sees_sna(setup: tuple[Any, EchonetNode]) -> None:
    api, node = setup
    assert await api.discover(NODE)
    await wait_for(lambda: api._state.get(NODE, {}).get("discovered"), what="discovery")
    assert await api.getAllPropertyMaps(NODE, 0x02, 0x90, 0x01)
    light = GeneralLighting(NODE, api)
    assert await light.update([0x80]) == "off"
    await node.change("light", 0x80, b"\x30")  # someone switched it on at the wall
    state = api._state[NODE]["instances"][0x02][0x90][1]
    await wait_for(lambda: state.get(0x80) == b"\x30", what="INF reaches pychonet")
    # Writing a read-only EPC (instantaneous power) is refused with SetC_SNA. The meter's maps
    # were not fetched: pychonet would otherwise drop EPCs missing from the Set map itself.
    # (pychonet counts an SNA on 0x8A as success, so that EPC cannot show it.)
    sent = node.handled
    assert not await api.echonetMessage(NODE, 0x02, 0x88, 0x01, 0x61,
                                        [{"EPC": 0xE7, "PDC": 4, "EDT": 1}])
    assert node.handled == sent + 1


async def test_pychonet_discovers_our_controller_node_profile(
    setup: tuple[Any, EchonetNode],
) -> None:
    from integrations.echonet.protocol import EchonetClient

    api, _ = setup
    ours = EchonetClient(bind="127.0.39.3", timeout_s=2, retries=0)
    await ours.start()
    try:
        assert await api.discover("127.0.39.3")
        await wait_for(lambda: api._state.get("127.0.39.3", {}).get("discovered"),
                       what="pychonet sees the hub's node profile")
        assert set(api._state["127.0.39.3"]["instances"]) == {0x05}
        assert set(api._state["127.0.39.3"]["instances"][0x05]) == {0xFF}
    finally:
        await ours.close()
