"""Property maps 0x9D (announce), 0x9E (Set), 0x9F (Get): pure codec.

EDT[0] = number of EPCs N. If N < 16 the N EPC bytes follow (list form). Otherwise 16 bitmap
bytes follow: bit j (LSB = 0) of EDT[1 + i] set means EPC 0x80 + i + 0x10 * j.
"""

from __future__ import annotations

from collections.abc import Iterable

from integrations.echonet.frame import FrameError

ANNOUNCE_MAP = 0x9D
SET_MAP = 0x9E
GET_MAP = 0x9F
MAP_EPCS = (ANNOUNCE_MAP, SET_MAP, GET_MAP)


def decode_map(edt: bytes) -> frozenset[int]:
    """EDT of 0x9D/0x9E/0x9F -> the EPCs it lists. Raises FrameError for a malformed map."""
    if not edt:
        raise FrameError("property map is empty; it starts with the number of EPCs")
    count = edt[0]
    if count < 16:
        epcs = edt[1:]
        if len(epcs) != count:
            raise FrameError(f"property map says {count} EPCs but lists {len(epcs)}")
        if any(e < 0x80 for e in epcs):
            raise FrameError("property map lists an EPC below 0x80")
        return frozenset(epcs)
    if len(edt) != 17:
        raise FrameError(f"property map of {count} EPCs must be 17 bytes (bitmap), got {len(edt)}")
    found = frozenset(
        0x80 + i + 0x10 * j for i in range(16) for j in range(8) if edt[1 + i] & (1 << j)
    )
    if len(found) != count:
        raise FrameError(f"property map says {count} EPCs but its bitmap holds {len(found)}")
    return found


def encode_map(epcs: Iterable[int]) -> bytes:
    """EPCs -> EDT, list form below 16 EPCs, bitmap form from 16 on."""
    unique = sorted(set(epcs))
    if any(not 0x80 <= e <= 0xFF for e in unique):
        raise ValueError("property maps hold EPCs 0x80-0xFF only")
    if len(unique) < 16:
        return bytes((len(unique), *unique))
    bitmap = bytearray(16)
    for epc in unique:
        offset = epc - 0x80
        bitmap[offset & 0x0F] |= 1 << (offset >> 4)
    return bytes((len(unique), *bitmap))
