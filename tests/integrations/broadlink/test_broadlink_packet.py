"""The pure Broadlink packet codec: round trips, library-compatible bytes and clear errors."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
from broadlink.device import Device
from broadlink.remote import data_to_pulses
from hypothesis import given
from hypothesis import strategies as st

from integrations.broadlink import captures
from integrations.broadlink import packet as pk
from integrations.errors import ProtocolError

MAC = bytes.fromhex("34ea34aabbcc")

macs = st.binary(min_size=6, max_size=6)
keys = st.binary(min_size=16, max_size=16)


def library_packet(devtype: int, command: int, count: int, dev_id: int, payload: bytes,
                   key: bytes) -> bytes:
    """The bytes python-broadlink's own Device.send_packet puts on the wire, caught by a UDP
    socket on loopback (which answers with a minimal valid reply so the library returns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(10)
        device = Device(server.getsockname(), MAC, devtype, timeout=10)
        device.update_aes(key)
        device.id = dev_id
        device.count = (count - 1) & 0xFFFF  # send_packet counts up before sending
        caught: list[bytes] = []

        def answer() -> None:
            data, peer = server.recvfrom(4096)
            caught.append(data)
            reply = bytearray(0x38)
            reply[0x20:0x22] = (0xBEAF).to_bytes(2, "little")  # checksum of an empty reply
            server.sendto(bytes(reply), peer)

        responder = threading.Thread(target=answer)
        responder.start()
        device.send_packet(command, payload)
        responder.join(10)
    assert len(caught) == 1
    return caught[0]


def test_checksum_starts_at_beaf() -> None:
    assert pk.checksum(b"") == 0xBEAF
    assert pk.checksum(b"\x01\x02") == 0xBEB2
    assert pk.checksum(b"\xff" * 0x200) == (0xBEAF + 0xFF * 0x200) & 0xFFFF


def test_encode_matches_library_layout_byte_for_byte() -> None:
    payload = pk.auth_request_payload()
    header = pk.CommandHeader(0x520B, pk.CMD_AUTH, 0x8123, MAC, 0)
    ours = pk.encode_command(header, payload, pk.DEFAULT_KEY)
    assert ours == library_packet(0x520B, pk.CMD_AUTH, 0x8123, 0, payload, pk.DEFAULT_KEY)
    # A data command with a non-zero id, another key and a payload that needs padding.
    key = bytes(range(16))
    header = pk.CommandHeader(0x2737, 0x6A, 0x8001, MAC, 0x01020304)
    payload = b"\x02\x00\x00\x00" + bytes(range(37))
    assert pk.encode_command(header, payload, key) == library_packet(
        0x2737, 0x6A, 0x8001, 0x01020304, payload, key)


@given(
    devtype=st.integers(0, 0xFFFF),
    command=st.integers(0, 0xFFFF),
    counter=st.integers(0, 0xFFFF),
    mac=macs,
    dev_id=st.integers(0, 0xFFFFFFFF),
    error=st.integers(-0x8000, 0x7FFF),
    payload=st.binary(max_size=300),
    key=keys,
)
def test_command_round_trip(devtype: int, command: int, counter: int, mac: bytes, dev_id: int,
                            error: int, payload: bytes, key: bytes) -> None:
    header = pk.CommandHeader(devtype, command, counter, mac, dev_id, error)
    frame = pk.decode_frame(pk.encode_command(header, payload, key))
    assert frame.header == pk.CommandHeader(
        devtype, command, counter, mac, dev_id, error, pk.checksum(payload)
    )
    if payload:
        plain = pk.open_payload(frame, key)
        assert plain[: len(payload)] == payload
        assert not any(plain[len(payload):])


@given(mac=macs, name=st.text(max_size=20), locked=st.booleans(), devtype=st.integers(0, 0xFFFF))
def test_discovery_reply_round_trip(mac: bytes, name: str, locked: bool, devtype: int) -> None:
    name = name.replace("\0", "")
    if len(name.encode()) > 0x3E:
        return
    reply = pk.DiscoveryReply(devtype, mac, name, locked, "127.0.0.21")
    assert pk.decode_discovery_reply(pk.encode_discovery_reply(reply)) == reply


def test_discovery_request_round_trip_and_detection() -> None:
    req = pk.DiscoveryRequest("127.0.0.9", 40123)
    data = pk.encode_discovery_request(req)
    assert len(data) == 0x30 and data[0x26] == 0x06
    assert pk.is_discovery_request(data)
    assert pk.decode_discovery_request(data) == req
    ping = bytearray(0x30)
    ping[0x26] = 1
    assert not pk.is_discovery_request(bytes(ping))


@pytest.mark.parametrize("prefix", [True, False])
@given(sub=st.integers(0, 0xFFFFFFFF), data=st.binary(max_size=200))
def test_remote_round_trip_with_padding(prefix: bool, sub: int, data: bytes) -> None:
    body = pk.encode_remote(pk.RemoteMessage(sub, data), length_prefix=prefix)
    padded = body + bytes(-len(body) % 16)
    decoded = pk.decode_remote(padded, length_prefix=prefix)
    assert decoded.subcommand == sub
    if prefix:
        assert decoded.data == data  # the RM4 length prefix removes the AES padding
    else:
        assert decoded.data[: len(data)] == data


def test_rm4_prefix_is_data_length_plus_four() -> None:
    body = pk.encode_remote(pk.RemoteMessage(pk.SUB_SEND, b"\x26\x00\x00\x00"), length_prefix=True)
    assert body == struct.pack("<HI", 8, 2) + b"\x26\x00\x00\x00"


def test_auth_reply_round_trip() -> None:
    key = bytes(range(16))
    assert pk.decode_auth_reply(pk.encode_auth_reply(0xDEADBEEF, key)) == (0xDEADBEEF, key)


# --- malformed input -------------------------------------------------------------------------


def valid_packet() -> bytes:
    header = pk.CommandHeader(0x51DA, pk.CMD_REMOTE, 0x8001, MAC, 7)
    return pk.encode_command(header, b"\x02\x00\x00\x00hello", pk.DEFAULT_KEY)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (valid_packet()[:0x20], "the header alone is 56"),
        (b"\x00" * 0x40, "does not start with 5a a5"),
        (valid_packet()[:0x20] + b"\x00\x00" + valid_packet()[0x22:], "checksum is 0x0000"),
        (valid_packet()[:-1] + bytes([valid_packet()[-1] ^ 1]), "checksum is"),
    ],
)
def test_bad_frames_raise_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(pk.PacketError, match=reason) as info:
        pk.decode_frame(data)
    assert isinstance(info.value, ProtocolError)
    assert reason in info.value.reason


def test_truncated_ciphertext_is_rejected() -> None:
    data = bytearray(valid_packet()[:-3])
    data[0x20:0x22] = b"\0\0"
    data[0x20:0x22] = pk.checksum(data).to_bytes(2, "little")
    frame = pk.decode_frame(bytes(data))
    with pytest.raises(pk.PacketError, match="not a multiple of 16"):
        pk.open_payload(frame, pk.DEFAULT_KEY)


def test_wrong_key_fails_payload_checksum() -> None:
    frame = pk.decode_frame(valid_packet())
    with pytest.raises(pk.PacketError, match="wrong key"):
        pk.open_payload(frame, bytes(16))


@pytest.mark.parametrize(
    ("payload", "prefix", "reason"),
    [
        (b"\x01\x00", False, "needs at least 4"),
        (b"\x01\x00\x00", True, "needs at least 6"),
        (struct.pack("<HI", 200, 2) + bytes(10), True, "does not fit"),
        (struct.pack("<HI", 2, 2) + bytes(10), True, "does not fit"),
    ],
)
def test_bad_remote_payloads(payload: bytes, prefix: bool, reason: str) -> None:
    with pytest.raises(pk.PacketError, match=reason):
        pk.decode_remote(payload, length_prefix=prefix)


def test_short_discovery_and_bad_mac() -> None:
    with pytest.raises(pk.PacketError, match="needs 48"):
        pk.decode_discovery_request(b"\x00" * 10)
    with pytest.raises(pk.PacketError, match="needs 128"):
        pk.decode_discovery_reply(b"\x00" * 0x40)
    with pytest.raises(ValueError, match="not a MAC"):
        pk.parse_mac("34:ea:34")


def test_code_packets() -> None:
    code = bytes.fromhex("26000400112233440000")
    assert pk.trim_code(code) == code[:8]
    with pytest.raises(pk.PacketError, match="only 5 arrived"):
        pk.trim_code(bytes.fromhex("2600100011"))
    with pytest.raises(pk.PacketError, match="not IR"):
        pk.trim_code(bytes.fromhex("99000000"))


# --- prepared captures, read back by the library's own decoder -----------------------------


def test_nec_capture_decodes_with_library_to_nec_timings() -> None:
    code = captures.nec_packet(0x04, 0x08)
    assert code[0] == 0x26 and code.endswith(b"\x0d\x05")
    assert pk.trim_code(code) == code
    pulses = data_to_pulses(code, tick=captures.TICK_US)
    expected = captures.nec_timings(0x04, 0x08)
    assert len(pulses) == len(expected) + 2  # the library reads the 0d 05 terminator as 2 pulses
    for got, want in zip(pulses, expected, strict=False):
        assert abs(got - want) <= captures.TICK_US  # one tick of rounding
    # leader 9 ms / 4.5 ms, then address 0x04 LSB-first: 0,0,1,0,0,0,0,0
    assert 8900 < pulses[0] < 9100 and 4400 < pulses[1] < 4600
    bits = [1 if pulses[3 + 2 * i] > 1000 else 0 for i in range(32)]
    value = sum(b << i for i, b in enumerate(bits))
    assert value == 0x04 | 0xFB << 8 | 0x08 << 16 | 0xF7 << 24


def test_hand_built_captures_decode_as_nec_in_ir_codes() -> None:
    """The emulator's prepared captures are real NEC codes by an independent decoder."""
    import ir_codes
    from ir_codes.formats import broadlink as bl_format

    for (address, command), code in [((0x04, 0x08), captures.DEMO_CAPTURES["tv_power"]),
                                     ((0x04, 0x02), captures.DEMO_CAPTURES["tv_volume_up"])]:
        decoded = ir_codes.decode(bl_format.from_packet(code))
        assert (decoded.protocol, decoded.address, decoded.command) == ("NEC", address, command)
