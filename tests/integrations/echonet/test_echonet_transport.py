"""Malformed datagrams on real sockets: dropped, logged once, the listener keeps answering."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from echonet_testkit import wait_for

from integrations.echonet.emulator import EchonetNode
from integrations.echonet.frame import CONTROLLER, Eoj, Esv, Frame, Property, decode, encode
from integrations.echonet.propmap import decode_map
from integrations.echonet.protocol import EchonetClient
from integrations.errors import DeviceUnreachable

NODE = "127.0.36.10"
PEER = "127.0.36.2"
OTHER = "127.0.36.11"

GARBAGE = [
    b"",
    b"\x10",
    b"hello world, not echonet",
    bytes.fromhex("2081000105ff0101300162018000"),  # wrong EHD1
    bytes.fromhex("1082000105ff0101300162018000"),  # wrong EHD2
    bytes.fromhex("1081000105ff0101300162038000"),  # OPC lies
    bytes.fromhex("1081000105ff01013001620180ff"),  # PDC lies
    bytes.fromhex("1081000105ff0101300162018000aa"),  # trailing byte
]


def _udp(bind: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, 3610))
    sock.setblocking(False)
    return sock


async def test_emulator_survives_garbage_and_logs_each_reason_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = EchonetNode(bind=NODE, objects=["aircon"])
    await node.start()
    sock = _udp(PEER)
    loop = asyncio.get_running_loop()
    try:
        caplog.set_level(logging.WARNING, logger="integrations.echonet")
        for _ in range(3):  # the same garbage three times
            for datagram in GARBAGE:
                await loop.sock_sendto(sock, datagram, (NODE, 3610))
        await wait_for(lambda: node.transport.stats.malformed == 3 * len(GARBAGE),
                       what="every bad datagram counted")
        request = Frame(7, CONTROLLER, Eoj(0x01, 0x30, 0x01), Esv.GET, (Property(0x80),))
        await loop.sock_sendto(sock, encode(request), (NODE, 3610))
        data = await asyncio.wait_for(loop.sock_recv(sock, 2048), 10)
        answer = decode(data)
        assert (answer.tid, answer.esv, answer.props) == (7, Esv.GET_RES,
                                                          (Property(0x80, b"\x31"),))
        dropped = [r for r in caplog.records if "malformed" in r.getMessage()]
        assert len(dropped) == len(GARBAGE)  # deduplicated: once per distinct reason
    finally:
        sock.close()
        await node.stop()


async def test_controller_survives_garbage_between_requests() -> None:
    node = EchonetNode(bind=NODE, objects=["light"])
    await node.start()
    client = EchonetClient(bind=PEER, timeout_s=2, retries=1)
    await client.start()
    sock = _udp(OTHER)
    loop = asyncio.get_running_loop()
    try:
        for datagram in GARBAGE:
            await loop.sock_sendto(sock, datagram, (PEER, 3610))
        await wait_for(lambda: client.transport.stats.malformed == len(GARBAGE),
                       what="controller counted the garbage")
        answer = await client.request(NODE, Eoj(0x02, 0x90, 0x01), Esv.GET, [Property(0xB0)])
        assert answer is not None
        assert answer.edt(0xB0) == bytes([80])
    finally:
        sock.close()
        await client.close()
        await node.stop()


async def test_silent_node_is_unreachable_after_bounded_retries() -> None:
    client = EchonetClient(bind=PEER, timeout_s=0.2, retries=2)
    await client.start()
    sock = _udp(OTHER)  # bound, so datagrams are swallowed rather than refused
    try:
        with pytest.raises(DeviceUnreachable, match="3 tries"):
            await client.request(OTHER, Eoj(0x01, 0x30, 0x01), Esv.GET, [Property(0x80)])
        assert client.transport.stats.sent == 3
    finally:
        sock.close()
        await client.close()


async def test_one_request_in_flight_per_node() -> None:
    node = EchonetNode(bind=NODE, objects=["aircon"])
    await node.start()
    client = EchonetClient(bind=PEER, timeout_s=10, retries=0)
    await client.start()
    sock = _udp(OTHER)
    try:
        aircon = Eoj(0x01, 0x30, 0x01)
        results = await asyncio.gather(*(client.request(NODE, aircon, Esv.GET, [Property(0x80)])
                                         for _ in range(10)))
        assert all(r is not None and r.esv is Esv.GET_RES for r in results)
        assert len({r.tid for r in results if r is not None}) == 10
        # Serialised per node: never two of ours outstanding, so never more sent than answered+1.
        assert client.transport.stats.sent == 10
    finally:
        sock.close()
        await client.close()
        await node.stop()


async def test_infc_is_answered_with_infc_res_and_notified() -> None:
    seen: list[Frame] = []
    client = EchonetClient(bind=PEER, timeout_s=2, retries=0,
                           on_notify=lambda frame, host: seen.append(frame))
    await client.start()
    sock = _udp(OTHER)
    loop = asyncio.get_running_loop()
    try:
        infc = Frame(0x1234, Eoj(0x01, 0x30, 0x01), CONTROLLER, Esv.INFC,
                     (Property(0x80, b"\x30"),))
        await loop.sock_sendto(sock, encode(infc), (PEER, 3610))
        answer = decode(await asyncio.wait_for(loop.sock_recv(sock, 2048), 10))
        assert answer == Frame(0x1234, CONTROLLER, Eoj(0x01, 0x30, 0x01), Esv.INFC_RES,
                               (Property(0x80),))
        assert seen == [infc]
    finally:
        sock.close()
        await client.close()


async def test_controller_answers_for_its_own_node_profile() -> None:
    client = EchonetClient(bind=PEER, timeout_s=2, retries=0, node_id=b"\xfe" + bytes(16))
    await client.start()
    sock = _udp(OTHER)
    loop = asyncio.get_running_loop()
    profile = Eoj(0x0E, 0xF0, 0x01)

    async def ask(frame: Frame) -> Frame:
        await loop.sock_sendto(sock, encode(frame), (PEER, 3610))
        return decode(await asyncio.wait_for(loop.sock_recv(sock, 2048), 10))

    try:
        get = Frame(1, Eoj(0x01, 0x30, 0x01), profile, Esv.GET,
                    (Property(0xD6), Property(0x83), Property(0x9F)))
        answer = await ask(get)
        assert answer.esv is Esv.GET_RES
        assert answer.seoj == profile
        assert answer.edt(0xD6) == bytes.fromhex("0105ff01")
        assert answer.edt(0x83) == b"\xfe" + bytes(16)
        assert 0xD6 in decode_map(answer.edt(0x9F) or b"\x00")
        missing = await ask(Frame(2, Eoj(0x01, 0x30, 0x01), profile, Esv.GET,
                                  (Property(0x80), Property(0xF0))))
        assert missing.esv is Esv.GET_SNA
        assert missing.props == (Property(0x80, b"\x30"), Property(0xF0))
        refused = await ask(Frame(3, Eoj(0x01, 0x30, 0x01), CONTROLLER, Esv.SETC,
                                  (Property(0x80, b"\x31"),)))
        assert refused.esv is Esv.SETC_SNA
        assert refused.props == (Property(0x80, b"\x31"),)
    finally:
        sock.close()
        await client.close()
