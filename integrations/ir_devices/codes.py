"""The uniform code form of IR devices: Broadlink IR/RF code packets (what an RM learns and
sends; ESPHome blasters convert them to timings). Pure: bytes in, bytes out.

|type|repeat|len LE |pulses ...|0d 05 (IR)|
"""

from __future__ import annotations

from integrations.errors import ProtocolError

IR_TYPE = 0x26
RF433_TYPE = 0xB2
RF315_TYPE = 0xD7
CODE_TYPES = (IR_TYPE, RF433_TYPE, RF315_TYPE)


class PacketError(ProtocolError):
    """Bytes that are not a valid Broadlink packet; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid Broadlink packet: {reason}")
        self.reason = reason


def code_packet_length(code: bytes) -> int:
    """Declared total length of an IR/RF code packet (4-byte head + pulse bytes)."""
    if len(code) < 4:
        raise PacketError(f"code packet is {len(code)} bytes, the head alone is 4")
    if code[0] not in CODE_TYPES:
        raise PacketError(f"code type {code[0]:#04x} is not IR (0x26) or RF (0xb2, 0xd7)")
    return 4 + int.from_bytes(code[2:4], "little")


def trim_code(code: bytes) -> bytes:
    """Drop the zero padding some firmwares return after a learned code."""
    length = code_packet_length(code)
    if length > len(code):
        raise PacketError(f"code packet declares {length} bytes but only {len(code)} arrived")
    return bytes(code[:length])
