"""ECHONET Lite frame codec: bytes in, values out, no I/O.

Layout (format 1, ECHONET Lite Part II §3.2):

    |EHD1|EHD2|  TID  |   SEOJ   |   DEOJ   |ESV|OPC| EPC|PDC| EDT ... | EPC|PDC| EDT ...
    |0x10|0x81|2 B BE |  3 bytes |  3 bytes | 1 | 1 |  1 | 1 | PDC B   |  (OPC times)

SetGet (0x6E) and its answers (0x7E, 0x5E) carry two blocks: OPCSet + props, OPCGet + props.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from integrations.errors import ProtocolError

EHD1 = 0x10
EHD2 = 0x81  # format 1 (specified message format); 0x82 arbitrary format is not supported

# |EHD1|EHD2|TID|SEOJ|DEOJ|ESV|
_HEADER = struct.Struct(">BBH3s3sB")
HEADER_SIZE = _HEADER.size  # 11; OPC follows


class FrameError(ProtocolError):
    """A datagram that is not a valid ECHONET Lite frame; the message says what is wrong."""


class Esv(enum.IntEnum):
    """ECHONET Lite service codes."""

    SETI_SNA = 0x50  # SetI refused
    SETC_SNA = 0x51  # SetC refused
    GET_SNA = 0x52  # Get partly or fully refused
    INF_SNA = 0x53  # INF_REQ refused
    SETGET_SNA = 0x5E  # SetGet refused
    SETI = 0x60  # write, no answer wanted
    SETC = 0x61  # write, answer wanted
    GET = 0x62  # read
    INF_REQ = 0x63  # ask for an INF
    SETGET = 0x6E  # write then read
    SET_RES = 0x71  # answer to SetC
    GET_RES = 0x72  # answer to Get
    INF = 0x73  # notification
    INFC = 0x74  # notification that wants INFC_Res
    INFC_RES = 0x7A  # answer to INFC
    SETGET_RES = 0x7E  # answer to SetGet

    @property
    def is_request(self) -> bool:
        """True for the services a controller sends to a device."""
        return self in _REQUESTS

    @property
    def is_failure(self) -> bool:
        """True for the *_SNA (service not available) answers."""
        return 0x50 <= self.value <= 0x5F

    @property
    def has_two_blocks(self) -> bool:
        """True for SetGet and its answers."""
        return self in (Esv.SETGET, Esv.SETGET_RES, Esv.SETGET_SNA)


_REQUESTS = frozenset({Esv.SETI, Esv.SETC, Esv.GET, Esv.INF_REQ, Esv.SETGET})
_ESV_VALUES = frozenset(e.value for e in Esv)

# The answers that a request may receive: success first, then failure.
ANSWERS: dict[Esv, tuple[Esv, ...]] = {
    Esv.SETI: (Esv.SETI_SNA,),
    Esv.SETC: (Esv.SET_RES, Esv.SETC_SNA),
    Esv.GET: (Esv.GET_RES, Esv.GET_SNA),
    Esv.INF_REQ: (Esv.INF, Esv.INF_SNA),
    Esv.SETGET: (Esv.SETGET_RES, Esv.SETGET_SNA),
    Esv.INFC: (Esv.INFC_RES,),
}


@dataclass(frozen=True, slots=True, order=True)
class Eoj:
    """An ECHONET object: class group code, class code, instance (0 = every instance)."""

    group: int
    cls: int
    instance: int

    @classmethod
    def parse(cls, value: bytes | str | int) -> Eoj:
        """From 3 bytes, a hex string such as '013001' / '0x013001', or a 24-bit int."""
        if isinstance(value, str):
            value = int(value.removeprefix("0x"), 16)
        if isinstance(value, int):
            if not 0 <= value <= 0xFFFFFF:
                raise ValueError(f"EOJ {value:#x} is not 3 bytes")
            value = value.to_bytes(3, "big")
        if len(value) != 3:
            raise ValueError(f"EOJ needs 3 bytes, got {len(value)}")
        return cls(value[0], value[1], value[2])

    @property
    def class_code(self) -> int:
        """Group and class as one 16-bit code, e.g. 0x0130."""
        return (self.group << 8) | self.cls

    def with_instance(self, instance: int) -> Eoj:
        """The same class with another instance code."""
        return Eoj(self.group, self.cls, instance)

    def __bytes__(self) -> bytes:
        return bytes((self.group, self.cls, self.instance))

    def __str__(self) -> str:
        return f"{self.group:02x}{self.cls:02x}{self.instance:02x}"


NODE_PROFILE = Eoj(0x0E, 0xF0, 0x01)
CONTROLLER = Eoj(0x05, 0xFF, 0x01)


@dataclass(frozen=True, slots=True)
class Property:
    """One EPC with its data (empty for a Get request or a Set_Res acknowledgement)."""

    epc: int
    edt: bytes = b""

    @property
    def pdc(self) -> int:
        """The data length."""
        return len(self.edt)


@dataclass(frozen=True, slots=True)
class Frame:
    """One ECHONET Lite message.

    `get_props` is the second block of SetGet frames; None means the block is absent, which
    only OpenECHO's shortened SetGet_SNA (`5e 00`) does.
    """

    tid: int
    seoj: Eoj
    deoj: Eoj
    esv: Esv
    props: tuple[Property, ...] = ()
    get_props: tuple[Property, ...] | None = field(default=None)

    def edt(self, epc: int) -> bytes | None:
        """The data of an EPC in the first block, None when absent."""
        for prop in self.props:
            if prop.epc == epc:
                return prop.edt
        return None

    def values(self) -> dict[int, bytes]:
        """EPC -> EDT of every property with data (both blocks)."""
        out = {p.epc: p.edt for p in self.props if p.edt}
        out.update({p.epc: p.edt for p in self.get_props or () if p.edt})
        return out


def _encode_block(out: bytearray, props: tuple[Property, ...]) -> None:
    if len(props) > 255:
        raise ValueError(f"a frame carries at most 255 properties, got {len(props)}")
    out.append(len(props))
    for prop in props:
        if not 0x80 <= prop.epc <= 0xFF:
            raise ValueError(f"EPC {prop.epc:#x} is outside 0x80-0xFF")
        if len(prop.edt) > 255:
            raise ValueError(f"EDT of EPC {prop.epc:#04x} is {len(prop.edt)} bytes; max 255")
        out += bytes((prop.epc, len(prop.edt)))
        out += prop.edt


def encode(frame: Frame) -> bytes:
    """Frame -> datagram bytes. Raises ValueError for values that do not fit the format."""
    if not 0 <= frame.tid <= 0xFFFF:
        raise ValueError(f"TID {frame.tid} does not fit 2 bytes")
    out = bytearray(
        _HEADER.pack(EHD1, EHD2, frame.tid, bytes(frame.seoj), bytes(frame.deoj), frame.esv)
    )
    _encode_block(out, frame.props)
    if frame.esv.has_two_blocks and frame.get_props is not None:
        _encode_block(out, frame.get_props)
    return bytes(out)


def _decode_block(data: bytes, pos: int, what: str) -> tuple[tuple[Property, ...], int]:
    if pos >= len(data):
        raise FrameError(f"truncated: {what} (the property count) missing at byte {pos}")
    count = data[pos]
    pos += 1
    props: list[Property] = []
    for index in range(count):
        if pos + 2 > len(data):
            raise FrameError(
                f"truncated: {what} says {count} properties but the frame ends "
                f"in property {index + 1}"
            )
        epc, pdc = data[pos], data[pos + 1]
        if epc < 0x80:
            raise FrameError(f"EPC {epc:#04x} of property {index + 1} is outside 0x80-0xFF")
        pos += 2
        if pos + pdc > len(data):
            raise FrameError(
                f"EPC {epc:#04x}: PDC says {pdc} bytes but only {len(data) - pos} remain"
            )
        props.append(Property(epc, data[pos:pos + pdc]))
        pos += pdc
    return tuple(props), pos


def decode(data: bytes) -> Frame:
    """Datagram bytes -> Frame. Raises FrameError saying why the bytes are not a frame."""
    if len(data) < HEADER_SIZE + 1:
        raise FrameError(f"truncated: {len(data)} bytes, a frame has at least {HEADER_SIZE + 1}")
    ehd1, ehd2, tid, seoj, deoj, esv_code = _HEADER.unpack_from(data)
    if ehd1 != EHD1:
        raise FrameError(f"EHD1 is {ehd1:#04x}, ECHONET Lite frames start with 0x10")
    if ehd2 != EHD2:
        raise FrameError(f"EHD2 is {ehd2:#04x}; only the specified format 0x81 is supported")
    if esv_code not in _ESV_VALUES:
        raise FrameError(f"unknown ESV {esv_code:#04x}")
    esv = Esv(esv_code)
    props, pos = _decode_block(data, HEADER_SIZE, "OPC")
    get_props: tuple[Property, ...] | None = None
    if esv.has_two_blocks:
        # OpenECHO answers SetGet with `5e 00` and no OPCGet; tolerate only that shape.
        if pos == len(data) and esv is Esv.SETGET_SNA:
            get_props = None
        else:
            get_props, pos = _decode_block(data, pos, "OPCGet")
    elif not props:
        raise FrameError(f"OPC is 0: {esv.name} must carry at least one property")
    if pos != len(data):
        raise FrameError(f"{len(data) - pos} bytes after the last property that OPC announces")
    return Frame(tid, Eoj.parse(seoj), Eoj.parse(deoj), esv, props, get_props)
