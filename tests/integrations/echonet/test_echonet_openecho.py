"""Interop with OpenECHO (an independent implementation) through its captured exchanges.

1. Our emulator, set up like the captured OpenECHO node, answers every captured request with
   frames of the same structure (ESV, objects, EPCs, data sizes) over real UDP.
2. Our controller's parsing turns the captured responses into the values they carry.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from integrations.echonet.controller import node_identity, object_info, refused
from integrations.echonet.emulator import Aircon, EchonetNode, Light, Meter
from integrations.echonet.frame import CONTROLLER, Eoj, Esv, Frame, Property, decode, encode
from integrations.echonet.protocol import parse_instance_list

CLIENT = "127.0.40.2"
NODE = "127.0.40.10"
SENTINEL_TID = 0xFFFE

Shape = tuple[int, str, str, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...] | None]


def _shape(frame: Frame) -> Shape:
    """What 'same structure' means: ESV, SEOJ, DEOJ, and (EPC, PDC) of each block."""
    get_block = None if frame.get_props is None else tuple((p.epc, p.pdc)
                                                           for p in frame.get_props)
    return (frame.esv, str(frame.seoj), str(frame.deoj),
            tuple((p.epc, p.pdc) for p in frame.props), get_block)


def _openecho_like_node() -> EchonetNode:
    """The node of the capture: two air conditioners, a light and a meter (see its `setup`)."""
    ac1 = Aircon(1, epcs=[0x80, 0x81, 0x82, 0x88, 0x8A, 0xB0, 0xB3])
    ac1.settable = frozenset({0x80, 0x81, 0xB0, 0xB3})
    ac1.values.update({0x80: b"\x30", 0xB0: b"\x41", 0xB3: b"\x27"})
    ac2 = Aircon(2, epcs=[0x80, 0x81, 0x82, 0x88, 0x8A, 0xA0, 0xB0, 0xB3, 0xBA, 0xBB])
    ac2.announced = frozenset({0x80, 0x81, 0x88, 0xB0})  # Release C: 0xA0 not announced
    ac2.values.update({0xB1: b"\x42", 0xB5: b"\x1a", 0xB6: b"\x14", 0xB9: b"\x00\x2d",
                       0xBE: b"\xf6"})
    light = Light(1, epcs=[0x80, 0x81, 0x82, 0x88, 0x8A, 0xB6])
    meter = Meter(1, epcs=[0x80, 0x81, 0x82, 0x88, 0x8A, 0xD3, 0xD7, 0xE0, 0xE1, 0xE7])
    meter.values[0xEA] = bytes.fromhex("07ea0b170c00000000303030")[:11]
    return EchonetNode(bind=NODE, objects=[ac1, ac2, light, meter])


async def _exchange(sock: socket.socket, request: bytes) -> list[Frame]:
    """Send a request, then a sentinel Get; every datagram before the sentinel's answer."""
    loop = asyncio.get_running_loop()
    sentinel = Frame(SENTINEL_TID, CONTROLLER, Eoj(0x0E, 0xF0, 0x01), Esv.GET,
                     (Property(0x80),))
    await loop.sock_sendto(sock, request, (NODE, 3610))
    await loop.sock_sendto(sock, encode(sentinel), (NODE, 3610))
    got: list[Frame] = []
    while True:
        frame = decode(await asyncio.wait_for(loop.sock_recv(sock, 4096), 10))
        if frame.tid == SENTINEL_TID and frame.esv is Esv.GET_RES:
            return got
        got.append(frame)


async def test_emulator_answers_like_openecho(openecho: dict[str, Any]) -> None:
    node = _openecho_like_node()
    await node.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((CLIENT, 3610))
    sock.setblocking(False)
    compared = 0
    try:
        for exchange in openecho["frames"]:
            if exchange["request_hex"] is None:
                continue
            request = decode(bytes.fromhex(exchange["request_hex"]))
            ours = await _exchange(sock, bytes.fromhex(exchange["request_hex"]))
            answers = [f for f in ours if f.tid == request.tid]
            announced = {(str(f.seoj), p.epc, p.pdc) for f in ours if f.tid != request.tid
                         for p in f.props}
            theirs = [decode(bytes.fromhex(h)) for h in exchange["responses_hex"]]
            multicast = [decode(bytes.fromhex(h)) for h in exchange.get("multicast_hex", [])]
            # OpenECHO multicasts the INF answering INF_REQ; ours answers the asker directly.
            theirs += [f for f in multicast if f.tid == request.tid]
            their_announced = {(str(f.seoj), p.epc, p.pdc) for f in multicast
                               if f.tid != request.tid for p in f.props}
            what = exchange["description"]
            if request.esv is Esv.SETGET:
                # OpenECHO does not implement SetGet (it answers a bare `5e 00`); we do.
                (answer,) = answers
                assert _shape(answer) == (Esv.SETGET_RES, "013001", "05ff01",
                                          ((0x80, 0),), ((0xB3, 1),)), what
                continue
            assert [_shape(f) for f in answers] == [_shape(f) for f in theirs], what
            assert announced == their_announced, what
            compared += 1
    finally:
        sock.close()
        await node.stop()
    assert compared == 45


def _response(openecho: dict[str, Any], request_hex: str) -> Frame:
    exchange = next(e for e in openecho["frames"] if e["request_hex"] == request_hex)
    return decode(bytes.fromhex(exchange["responses_hex"][0]))


def test_controller_parses_openecho_responses(openecho: dict[str, Any]) -> None:
    discovery = _response(openecho, "1081010105ff010ef0016201d600")
    assert parse_instance_list(discovery.edt(0xD6) or b"") == [
        Eoj.parse("013001"), Eoj.parse("013002"), Eoj.parse("029001"), Eoj.parse("028801")]
    ident = _response(openecho, "1081010505ff010ef00162018300").values()
    maker = _response(openecho, "1081010605ff010ef00162018a00").values()
    assert node_identity("10.0.0.9", {**ident, **maker}) == ("fe" + "00" * 16, "000000")
    assert node_identity("10.0.0.9", {}) == ("10.0.0.9", "")

    ac1_maps: dict[int, bytes] = {}
    for request in ("1081010f05ff0101300162019d00", "1081011005ff0101300162019e00",
                    "1081011105ff0101300162019f00"):
        ac1_maps.update(_response(openecho, request).values())
    ac1 = object_info(Eoj.parse("013001"), ac1_maps)
    assert ac1.set_map == {0xB3, 0x81, 0x80, 0xB0}
    assert ac1.announce_map == {0x88, 0x81, 0x80, 0xB0}
    mapping = ac1.mapping
    assert {n for n, p in mapping.properties().items() if p.writable} == {
        "power", "mode", "target_temperature"}
    assert set(mapping.properties()) == {"power", "mode", "target_temperature"}
    assert mapping.poll_epcs() == [0x80, 0xB0, 0xB3]
    values = _response(openecho, "1081011205ff0101300162038000b000b300").values()
    assert mapping.decode(values) == {"power": True, "mode": "auto", "target_temperature": 39}
    sna = _response(openecho, "1081011305ff010130016201bb00")
    assert sna.esv is Esv.GET_SNA
    assert mapping.decode(sna.values()) == {}
    partial = _response(openecho, "1081011405ff0101300162028000bb00")
    assert mapping.decode(partial.values()) == {"power": True}
    after = _response(openecho, "1081011605ff0101300162038000b000b300").values()
    assert mapping.decode(after) == {"power": False, "mode": "cool", "target_temperature": 25}

    ac2 = object_info(Eoj.parse("013002"), {
        **_response(openecho, "1081012105ff0101300262019f00").values(),
        **_response(openecho, "1081012205ff0101300262019e00").values()})
    assert len(ac2.get_map) == 18
    assert ac2.mapping.decode(
        _response(openecho, "1081012305ff010130026204bb00ba00be00b900").values()
    ) == {"temperature": 26.0, "humidity": 50.0}
    assert "fan_speed" in ac2.mapping.properties()
    assert ac2.mapping.properties()["fan_speed"].writable

    meter = object_info(Eoj.parse("028801"),
                        _response(openecho, "1081012b05ff0102880162019f00").values())
    reading = _response(openecho, "1081012c05ff010288016205d300d700e100e000e700").values()
    assert meter.mapping.decode(reading) == {"power_w": 500.0, "energy_kwh": 1234.5}
    assert "energy_export_kwh" not in meter.mapping.properties()  # its Get map lacks 0xE3

    light = object_info(Eoj.parse("029001"),
                        _response(openecho, "1081012605ff0102900162019f00").values())
    assert set(light.mapping.properties()) == {"power", "light_mode"}
    assert light.mapping.decode(
        _response(openecho, "1081012505ff0102900162018000").values()) == {"power": False}


@pytest.mark.parametrize(("request_hex", "esv", "rejected"), [
    ("1081011805ff0101300161018a03000077", Esv.SETC_SNA, [0x8A]),
    ("1081011905ff010130016102b3011abb0114", Esv.SETC_SNA, [0xBB]),
    ("1081011505ff010130016103800131b00142b30119", Esv.SET_RES, []),
    ("1081012e05ff010288016101800131", Esv.SETC_SNA, [0x80]),
])
def test_controller_reads_set_refusals(openecho: dict[str, Any], request_hex: str, esv: Esv,
                                       rejected: list[int]) -> None:
    answer = _response(openecho, request_hex)
    assert answer.esv is esv
    assert refused(answer) == rejected
