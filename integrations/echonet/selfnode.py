"""The controller's own ECHONET objects, answered from fixed values (pure, no I/O).

Every ECHONET Lite node, a controller included, has a node profile (0x0EF001) that others may
query (instance list 0xD6, identification 0x83); ours also lists one controller object 0x05FF01.
Nothing is settable: Set requests get SNA answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from integrations.echonet.frame import CONTROLLER, NODE_PROFILE, Eoj, Esv, Frame, Property
from integrations.echonet.propmap import ANNOUNCE_MAP, GET_MAP, SET_MAP, encode_map

MAKER_CODE = b"\xff\xff\xff"  # "not registered": homehub has no consortium maker code


def _with_maps(values: dict[int, bytes], announce: set[int]) -> dict[int, bytes]:
    readable = set(values) | {ANNOUNCE_MAP, SET_MAP, GET_MAP}
    return {**values, ANNOUNCE_MAP: encode_map(announce), SET_MAP: encode_map(()),
            GET_MAP: encode_map(readable)}


class SelfNode:
    """Answers requests addressed to this controller's node profile or controller object."""

    def __init__(self, node_id: bytes | None = None, controller: Eoj = CONTROLLER) -> None:
        self.node_id = node_id or b"\xfe" + MAKER_CODE + uuid.uuid4().bytes[:13]
        self.controller = controller
        self.objects: Mapping[Eoj, dict[int, bytes]] = {
            NODE_PROFILE: _with_maps({
                0x80: b"\x30", 0x82: b"\x01\x0e\x01\x00", 0x83: self.node_id, 0x8A: MAKER_CODE,
                0xD3: b"\x00\x00\x01", 0xD4: b"\x00\x02", 0xD6: b"\x01" + bytes(controller),
                0xD7: b"\x01" + bytes(controller)[:2],
            }, {0x80, 0xD5}),
            controller: _with_maps({
                0x80: b"\x30", 0x81: b"\x00", 0x82: b"\x00\x00\x52\x00", 0x88: b"\x42",
                0x8A: MAKER_CODE,
            }, {0x80, 0x81, 0x88}),
        }

    def answer(self, request: Frame) -> list[Frame]:
        """The answers to one request (none when it is not for our objects or is a good SetI)."""
        out = []
        for eoj, values in self.objects.items():
            wanted = request.deoj
            if not (wanted == eoj or (wanted.instance == 0
                                      and wanted.class_code == eoj.class_code)):
                continue
            reply = self._answer(request, values)
            if reply is not None:
                esv, props, get_props = reply
                out.append(Frame(request.tid, eoj, request.seoj, esv, props, get_props))
        return out

    @staticmethod
    def _answer(request: Frame, values: Mapping[int, bytes]) -> tuple[
            Esv, tuple[Property, ...], tuple[Property, ...] | None] | None:
        read = tuple(Property(p.epc, values.get(p.epc, b"")) for p in request.props)
        read_ok = all(p.edt for p in read)
        refused = request.props  # nothing is settable: echo every Set
        if request.esv is Esv.GET:
            return (Esv.GET_RES if read_ok else Esv.GET_SNA), read, None
        if request.esv is Esv.INF_REQ:
            return (Esv.INF if read_ok else Esv.INF_SNA), read, None
        if request.esv is Esv.SETC:
            return Esv.SETC_SNA, refused, None
        if request.esv is Esv.SETI:
            return Esv.SETI_SNA, refused, None
        if request.esv is Esv.SETGET:
            got = tuple(Property(p.epc, values.get(p.epc, b"")) for p in request.get_props or ())
            return Esv.SETGET_SNA, refused, got
        return None
