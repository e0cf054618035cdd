"""Frame and property-map codec: round trips, malformed input, captured OpenECHO frames."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.echonet.frame import (
    ANSWERS,
    CONTROLLER,
    NODE_PROFILE,
    Eoj,
    Esv,
    Frame,
    FrameError,
    Property,
    decode,
    encode,
)
from integrations.echonet.propmap import decode_map, encode_map
from integrations.errors import ProtocolError

eojs = st.builds(Eoj, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
props = st.builds(Property, st.integers(0x80, 0xFF), st.binary(max_size=40))
blocks = st.lists(props, max_size=8).map(tuple)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    esv = draw(st.sampled_from(list(Esv)))
    first = draw(blocks if esv.has_two_blocks else st.lists(props, min_size=1, max_size=8)
                 .map(tuple))
    second = draw(blocks) if esv.has_two_blocks else None
    return Frame(draw(st.integers(0, 0xFFFF)), draw(eojs), draw(eojs), esv, first, second)


@given(frames())
def test_frame_round_trip(frame: Frame) -> None:
    assert decode(encode(frame)) == frame


@given(st.binary(max_size=64))
def test_garbage_raises_only_frame_error(data: bytes) -> None:
    try:
        frame = decode(data)
    except FrameError as err:
        reason = str(err)
    else:
        reason = ""
        assert encode(frame) == data
    assert reason or data[:2] == b"\x10\x81"


@given(frames(), st.data())
def test_every_truncation_is_rejected(frame: Frame, data: st.DataObject) -> None:
    raw = encode(frame)
    cut = data.draw(st.integers(0, len(raw) - 1))
    # Cutting exactly before OPCGet of a SetGet_SNA yields OpenECHO's tolerated short form.
    short_form = frame.esv is Esv.SETGET_SNA and cut == len(raw) - 1 - sum(
        2 + p.pdc for p in frame.get_props or ())
    if short_form and not frame.get_props:
        return
    with pytest.raises(FrameError):
        decode(raw[:cut])


MALFORMED: list[tuple[str, str, str]] = [
    ("empty", "", "truncated"),
    ("short header", "108100", "truncated"),
    ("wrong EHD1", "2081000105ff0101300162018000", "EHD1"),
    ("arbitrary format EHD2", "1082000105ff0101300162018000", "EHD2"),
    ("unknown ESV", "1081000105ff0101300199018000", "unknown ESV"),
    ("OPC missing", "1081000105ff0101300162",
     "^truncated: 11 bytes, a frame has at least 12$"),
    ("OPC zero get", "1081000105ff010130016200", "OPC is 0"),
    ("OPC says more", "1081000105ff0101300162028000",
     "^truncated: OPC says 2 properties but the frame ends in property 2$"),
    ("OPCGet says more", "1081000105ff010130016e018001300280",
     "^truncated: OPCGet says 2 properties but the frame ends in property 1$"),
    ("PDC longer than data", "1081000105ff010130016101800230",
     "^EPC 0x80: PDC says 2 bytes but only 1 remain$"),
    ("PDC 5, two bytes left", "1081000105ff01013001610180053031",
     "^EPC 0x80: PDC says 5 bytes but only 2 remain$"),
    ("PDC 255, nothing left", "1081000105ff01013001610180ff",
     "^EPC 0x80: PDC says 255 bytes but only 0 remain$"),
    ("trailing bytes", "1081000105ff0101300162018000ff", "after the last property"),
    ("three trailing bytes", "1081000105ff0101300162018000ffffff",
     "^3 bytes after the last property that OPC announces$"),
    ("EPC below 0x80", "1081000105ff0101300162011000",
     "^EPC 0x10 of property 1 is outside 0x80-0xFF$"),
    ("second EPC below 0x80", "1081000105ff01013001620280001000",
     "^EPC 0x10 of property 2 is outside 0x80-0xFF$"),
    ("SetGet without OPCGet", "1081000105ff010130016e0180013001", "OPCGet"),
]


@pytest.mark.parametrize(("name", "hexdata", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_frames_say_why(name: str, hexdata: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason) as info:
        decode(bytes.fromhex(hexdata))
    assert isinstance(info.value, ProtocolError)


def test_get_request_layout_matches_the_spec_example() -> None:
    frame = Frame(1, Eoj(0x05, 0xFF, 0x01), Eoj(0x0E, 0xF0, 0x01), Esv.GET, (Property(0xD6),))
    assert encode(frame) == bytes.fromhex("1081000105ff010ef0016201d600")


def test_well_known_objects_are_the_spec_eojs() -> None:
    """Discovery goes from the controller object 0x05FF01 to the node profile 0x0EF001."""
    assert str(NODE_PROFILE) == "0ef001" and NODE_PROFILE.class_code == 0x0EF0
    assert str(CONTROLLER) == "05ff01"
    discovery = Frame(1, CONTROLLER, NODE_PROFILE, Esv.GET, (Property(0xD6),))
    assert encode(discovery) == bytes.fromhex("1081000105ff010ef0016201d600")


# ESV codes from ECHONET Lite Part II (see PROTOCOLS.md), with a body of the right shape.
SPEC_ESVS: list[tuple[str, int]] = [
    ("SETI_SNA", 0x50), ("SETC_SNA", 0x51), ("GET_SNA", 0x52), ("INF_SNA", 0x53),
    ("SETGET_SNA", 0x5E), ("SETI", 0x60), ("SETC", 0x61), ("GET", 0x62), ("INF_REQ", 0x63),
    ("SETGET", 0x6E), ("SET_RES", 0x71), ("GET_RES", 0x72), ("INF", 0x73), ("INFC", 0x74),
    ("INFC_RES", 0x7A), ("SETGET_RES", 0x7E),
]


@pytest.mark.parametrize(("name", "code"), SPEC_ESVS, ids=[e[0] for e in SPEC_ESVS])
def test_esv_byte_is_the_spec_code(name: str, code: int) -> None:
    body = "01800130" + "01b300" if code in (0x5E, 0x6E, 0x7E) else "01800130"
    raw = bytes.fromhex(f"1081000105ff01013001{code:02x}{body}")
    frame = decode(raw)
    assert frame.esv.name == name
    assert encode(frame) == raw
    assert encode(Frame(1, CONTROLLER, Eoj(0x01, 0x30, 0x01), Esv[name], frame.props,
                        frame.get_props))[10] == code


def test_inf_req_and_infc_answers_use_the_spec_codes() -> None:
    assert [int(e) for e in ANSWERS[Esv.INF_REQ]] == [0x73, 0x53]  # INF, INF_SNA
    assert [int(e) for e in ANSWERS[Esv(0x74)]] == [0x7A]  # INFC -> INFC_Res


def test_eoj_parse_accepts_exactly_three_bytes() -> None:
    assert Eoj.parse(0) == Eoj.parse("000000") == Eoj.parse(b"\0\0\0") == Eoj(0, 0, 0)
    assert Eoj.parse(0xFFFFFF) == Eoj.parse("0xffffff") == Eoj(0xFF, 0xFF, 0xFF)
    assert Eoj.parse(0x013001) == Eoj(0x01, 0x30, 0x01)
    for bad in (-1, 0x1000000, b"\x01\x30", b"\x01\x30\x01\x00"):
        with pytest.raises(ValueError):
            Eoj.parse(bad)


class _Epc(enum.IntEnum):
    """EPC names a caller might use; `edt` must match them by value."""

    OPERATION_STATUS = 0x80
    SET_TEMPERATURE = 0xB3


def test_edt_looks_an_epc_up_by_value() -> None:
    frame = decode(bytes.fromhex("1081000101300105ff017202800130b30119"))
    assert frame.edt(_Epc.OPERATION_STATUS) == b"\x30"
    assert frame.edt(_Epc.SET_TEMPERATURE) == b"\x19"
    assert frame.edt(0xB0) is None
    built = Frame(1, Eoj(0x01, 0x30, 0x01), CONTROLLER, Esv.GET_RES,
                  (Property(_Epc.OPERATION_STATUS, b"\x31"),))
    assert built.edt(0x80) == b"\x31"


def test_openecho_frames_reencode_byte_identically(openecho: dict[str, Any]) -> None:
    count = 0
    for exchange in openecho["frames"]:
        datagrams = [exchange["request_hex"], *exchange["responses_hex"],
                     *exchange.get("multicast_hex", [])]
        for hexdata in filter(None, datagrams):
            raw = bytes.fromhex(hexdata)
            assert encode(decode(raw)) == raw, exchange["description"]
            count += 1
    assert count >= 90


def test_openecho_short_setget_sna_is_tolerated(openecho: dict[str, Any]) -> None:
    exchange = next(e for e in openecho["frames"] if e["request_hex"]
                    and decode(bytes.fromhex(e["request_hex"])).esv is Esv.SETGET)
    request = decode(bytes.fromhex(exchange["request_hex"]))
    assert request.props == (Property(0x80, b"\x30"),)
    assert request.get_props == (Property(0xB3),)
    answer = decode(bytes.fromhex(exchange["responses_hex"][0]))
    assert answer.esv is Esv.SETGET_SNA
    assert answer.props == ()
    assert answer.get_props is None


@given(st.sets(st.integers(0x80, 0xFF)))
def test_property_map_round_trip(epcs: set[int]) -> None:
    edt = encode_map(epcs)
    assert len(edt) == (17 if len(epcs) >= 16 else 1 + len(epcs))
    assert decode_map(edt) == epcs


def test_property_map_bitmap_from_openecho(openecho: dict[str, Any]) -> None:
    exchange = next(e for e in openecho["frames"] if "bitmap" in e["description"])
    answer = decode(bytes.fromhex(exchange["responses_hex"][0]))
    got = decode_map(answer.edt(0x9F) or b"")
    expected = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x9D, 0x9E, 0x9F, 0xA0, 0xB0, 0xB1, 0xB3, 0xB5,
                0xB6, 0xB9, 0xBA, 0xBB, 0xBE}
    assert got == expected
    assert encode_map(got) == answer.edt(0x9F)


@pytest.mark.parametrize(("hexdata", "reason"), [
    ("", "empty"),
    ("0380", "says 3 EPCs but lists 1"),
    ("1000", "must be 17 bytes"),
    ("12" + "00" * 16, "bitmap holds 0"),
    ("0110", "below 0x80"),
])
def test_malformed_property_maps(hexdata: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_map(bytes.fromhex(hexdata))


def test_failure_answers_are_exactly_the_5x_services() -> None:
    """Boundary: 0x50 (SetI_SNA) and 0x5E are failures; 0x60 onwards and 0x7x are not."""
    assert [e.name for e in Esv if e.is_failure] == [
        "SETI_SNA", "SETC_SNA", "GET_SNA", "INF_SNA", "SETGET_SNA"]
    assert Esv.SETI_SNA.is_failure and not Esv.SETI.is_failure


def test_requests_are_exactly_the_services_a_controller_sends() -> None:
    """A device answers SetI, SetC, Get, INF_REQ and SetGet; notifications (INF, INFC) and
    every answer are not requests (the emulator ignores them, the controller routes them)."""
    assert [e.name for e in Esv if e.is_request] == ["SETI", "SETC", "GET", "INF_REQ", "SETGET"]
    assert Esv.GET.is_request is True and Esv.INFC.is_request is False


@pytest.mark.parametrize("tid", [0, 1, 0xFFFF])
def test_every_two_byte_tid_round_trips(tid: int) -> None:
    frame = Frame(tid, Eoj(0x05, 0xFF, 0x01), Eoj(0x01, 0x30, 0x01), Esv.GET, (Property(0x80),))
    assert decode(encode(frame)).tid == tid


@pytest.mark.parametrize("tid", [0x10000, -1])
def test_encoding_refuses_a_tid_outside_two_bytes(tid: int) -> None:
    frame = Frame(tid, Eoj(0x05, 0xFF, 0x01), Eoj(0x01, 0x30, 0x01), Esv.GET, (Property(0x80),))
    with pytest.raises(ValueError, match=f"TID {tid} does not fit 2 bytes"):
        encode(frame)


@pytest.mark.parametrize("epc", [0x7F, 0x100, -1])
def test_encoding_refuses_an_epc_outside_one_byte_from_0x80(epc: int) -> None:
    frame = Frame(1, Eoj(0x05, 0xFF, 0x01), Eoj(0x01, 0x30, 0x01), Esv.GET, (Property(epc, b""),))
    with pytest.raises(ValueError, match="outside 0x80-0xFF"):
        encode(frame)


def test_objects_properties_and_frames_are_immutable_values() -> None:
    # Eojs key the controller's device tables and frames are shared between waiters: a value
    # that could change under a dict, or an unhashable one, would be a silent bug.
    eoj = Eoj(0x01, 0x30, 0x01)
    prop = Property(0x80, b"\x30")
    frame = Frame(1, Eoj(0x05, 0xFF, 0x01), eoj, Esv.GET_RES, (prop,))
    assert {eoj: "aircon"}[Eoj(0x01, 0x30, 0x01)] == "aircon"
    assert len({frame, Frame(1, Eoj(0x05, 0xFF, 0x01), eoj, Esv.GET_RES, (prop,))}) == 1
    assert hash(prop) == hash(Property(0x80, b"\x30"))
    for value, name in ((eoj, "instance"), (prop, "edt"), (frame, "tid")):
        with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError
            setattr(value, name, 2)
