"""The frame codec against aioesphomeapi's own packet writer, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from aioesphomeapi._frame_helper.noise import make_noise_packets
from aioesphomeapi._frame_helper.noise_encryption import (
    ESPHOME_NOISE_BACKEND,
    NOISE_PROTOCOL_NAME,
    DecryptCipher,
    EncryptCipher,
)
from aioesphomeapi._frame_helper.packets import make_plain_text_packets
from hypothesis import given
from hypothesis import strategies as st
from noise.connection import NoiseConnection

from integrations.errors import ProtocolError
from integrations.esphome.frames import (
    NoiseFrameReader,
    PlaintextFrameReader,
    decode_varint,
    encode_noise_frame,
    encode_plaintext_frame,
    encode_varint,
    pack_noise_message,
    unpack_noise_message,
)
from integrations.esphome.noise_responder import NoiseResponder, NoiseState

msg_types = st.integers(min_value=0, max_value=2**14)
bodies = st.binary(max_size=600)


@given(st.integers(min_value=0, max_value=2**28 - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded, 0) == (value, len(encoded))
    assert decode_varint(encoded[:-1], 0) is None


@given(msg_types, bodies)
def test_plaintext_frame_matches_the_client_library(msg_type: int, body: bytes) -> None:
    assert encode_plaintext_frame(msg_type, body) == b"".join(
        make_plain_text_packets([(msg_type, body)])
    )


@given(st.lists(st.tuples(msg_types, bodies), max_size=5), st.integers(1, 7))
def test_plaintext_reader_reassembles_any_split(
    frames: list[tuple[int, bytes]], chunk: int
) -> None:
    stream = b"".join(make_plain_text_packets(frames))
    reader = PlaintextFrameReader()
    out: list[tuple[int, bytes]] = []
    for i in range(0, len(stream), chunk):
        out += reader.feed(stream[i : i + chunk])
    assert out == frames
    assert reader.pending == 0


def _client_side_noise(psk: bytes) -> Any:
    """The initiator exactly as aioesphomeapi's frame helper sets it up."""
    proto = NoiseConnection.from_name(NOISE_PROTOCOL_NAME, backend=ESPHOME_NOISE_BACKEND)
    proto.set_as_initiator()
    proto.set_psks(psk)
    proto.set_prologue(b"NoiseAPIInit\x00\x00")
    proto.start_handshake()
    return proto


def test_noise_frames_interoperate_with_the_client_library() -> None:
    psk = bytes(range(32))
    client = _client_side_noise(psk)
    device = NoiseResponder(psk, "node", "aabbccddeeff")
    [hello] = device.handshake(b"")
    assert hello == b"\x01node\x00aabbccddeeff\x00"
    [answer] = device.handshake(b"\x00" + client.write_message())
    assert answer[0] == 0
    client.read_message(answer[1:])
    assert device.state is NoiseState.READY

    encrypt = EncryptCipher(client.noise_protocol.cipher_state_encrypt)
    decrypt = DecryptCipher(client.noise_protocol.cipher_state_decrypt)
    messages = [(1, b"hello"), (33, b"\x0d\x01\x02\x03\x04\x10\x01"), (7, b"")]
    stream = b"".join(make_noise_packets(messages, encrypt))
    payloads = NoiseFrameReader().feed(stream)
    assert [unpack_noise_message(device.decrypt(p)) for p in payloads] == messages

    frame = encode_noise_frame(device.encrypt(pack_noise_message(26, b"\x08\x01")))
    [payload] = NoiseFrameReader().feed(frame)
    plain = decrypt.decrypt(payload)
    assert plain == b"\x00\x1a\x00\x02\x08\x01"


def test_noise_wrong_key_is_refused_with_the_mac_failure_the_client_expects() -> None:
    client = _client_side_noise(bytes(32))
    device = NoiseResponder(bytes(range(32)), "node", "aabbccddeeff")
    device.handshake(b"")
    assert device.handshake(b"\x00" + client.write_message()) == [b"\x01Handshake MAC failure"]
    assert device.state is NoiseState.FAILED


@pytest.mark.parametrize(
    "stream",
    [b"\x05\x00\x01", b"\x00\xff\xff\xff\xff\x01", b"\x00\x80\x80\x04\x01", b"\x01\x00\x00"],
    ids=["bad preamble", "varint too long", "frame too large", "noise preamble"],
)
def test_plaintext_reader_rejects_garbage(stream: bytes) -> None:
    with pytest.raises(ProtocolError):
        PlaintextFrameReader().feed(stream)


def test_readers_wait_for_truncated_frames() -> None:
    plain = PlaintextFrameReader()
    assert plain.feed(b"\x00\x05\x07abc") == []
    assert plain.pending == 6
    noise = NoiseFrameReader()
    assert noise.feed(b"\x01\x00\x10abc") == []
    with pytest.raises(ProtocolError):
        NoiseFrameReader().feed(b"\x00\x00\x00")
    with pytest.raises(ProtocolError):
        unpack_noise_message(b"\x00\x01")
