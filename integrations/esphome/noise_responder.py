"""The device side of ESPHome's Noise handshake (Noise_NNpsk0_25519_ChaChaPoly_SHA256).

The client opens with an empty frame (its "hello"), then ``0x00`` + its handshake message.
The device answers with a server hello (``0x01`` chosen protocol, name, NUL, MAC, NUL) and
``0x00`` + its handshake message, or ``0x01`` + a reason when the handshake fails (the client
maps "Handshake MAC failure" to a wrong-key error). After that every frame is ciphertext.
"""

from __future__ import annotations

import enum
from typing import Any

from cryptography.exceptions import InvalidTag
from noise.connection import NoiseConnection

from integrations.errors import ProtocolError

PROTOCOL_NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE = b"NoiseAPIInit\x00\x00"
MAC_FAILURE = b"\x01Handshake MAC failure"


class NoiseState(enum.Enum):
    """Where the responder is in the handshake."""

    HELLO = enum.auto()  # waiting for the client's empty hello frame
    HANDSHAKE = enum.auto()  # waiting for the client's handshake message
    READY = enum.auto()  # transport keys set; frames are ciphertext
    FAILED = enum.auto()  # the handshake failed; the connection must close


class NoiseResponder:
    """Turns incoming Noise frame payloads into replies and decrypted messages."""

    def __init__(self, psk: bytes, name: str, mac: str) -> None:
        if len(psk) != 32:
            raise ValueError("an ESPHome noise key is 32 bytes (44 characters in base64)")
        self._name = name
        self._mac = mac
        self.state = NoiseState.HELLO
        conn: Any = NoiseConnection.from_name(PROTOCOL_NAME)
        conn.set_as_responder()
        conn.set_psks(psk)
        conn.set_prologue(PROLOGUE)
        conn.start_handshake()
        self._conn = conn

    def handshake(self, payload: bytes) -> list[bytes]:
        """Consume one handshake-phase frame payload; return the payloads to send back."""
        if self.state is NoiseState.HELLO:
            self.state = NoiseState.HANDSHAKE
            return [b"\x01" + self._name.encode() + b"\x00" + self._mac.encode() + b"\x00"]
        if self.state is not NoiseState.HANDSHAKE:
            raise ProtocolError(f"handshake frame in state {self.state.name}")
        if not payload or payload[0] != 0x00:
            self.state = NoiseState.FAILED
            return [b"\x01Handshake frame malformed"]
        try:
            self._conn.read_message(payload[1:])
        except InvalidTag:
            self.state = NoiseState.FAILED
            return [MAC_FAILURE]
        except Exception as err:  # noiseprotocol raises a variety of types
            self.state = NoiseState.FAILED
            return [b"\x01Handshake failed: " + str(err).encode()[:100]]
        reply = b"\x00" + bytes(self._conn.write_message())
        self.state = NoiseState.READY
        return [reply]

    def encrypt(self, plain: bytes) -> bytes:
        """Encrypt one transport message."""
        return bytes(self._conn.encrypt(plain))

    def decrypt(self, cipher: bytes) -> bytes:
        """Decrypt one transport message; ProtocolError if it does not authenticate."""
        try:
            return bytes(self._conn.decrypt(cipher))
        except Exception as err:  # InvalidTag or noiseprotocol's own errors
            raise ProtocolError(f"noise frame failed to decrypt: {err!r}") from err
