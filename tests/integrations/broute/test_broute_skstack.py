"""SKSTACK IP codec: messages from the byte stream however the port chunks it, commands out.

The transcripts follow the layouts of ROHM's BP35A1 command reference (as the independent MIT
client smdn/Smdn.Net.SkStackIP documents them in its tests): EVENT lines in hex, the EPANDESC
block with two-space indents, ERXUDP with binary or hex data, SKSENDTO with raw bytes.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.broute import skstack as sk
from integrations.errors import ProtocolError

SELF = "FE80:0000:0000:0000:021D:1290:0003:C890"
PAA = "FE80:0000:0000:0000:021D:1290:1234:5678"

SCAN_TRANSCRIPT = (
    b"OK\r\n"
    b"EVENT 20 FE80:0000:0000:0000:021D:1290:0003:C890\r\n"
    b"EPANDESC\r\n  Channel:21\r\n  Channel Page:09\r\n  Pan ID:8888\r\n"
    b"  Addr:12345678ABCDEF01\r\n  LQI:E1\r\n  PairID:12345678\r\n"
    b"EVENT 22 FE80:0000:0000:0000:021D:1290:0003:C890\r\n"
)

JOIN_TRANSCRIPT = (
    b"OK\r\n"
    b"EVENT 21 FE80:0000:0000:0000:021D:1290:0003:C890 02\r\n"
    b"EVENT 02 FE80:0000:0000:0000:021D:1290:0003:C890\r\n"
    b"ERXUDP FE80:0000:0000:0000:021D:1290:0003:C890 FE80:0000:0000:0000:021D:1290:1234:5678 "
    b"02CC 02CC 12345678ABCDEF01 0 0001 00\r\n"
    b"EVENT 21 FE80:0000:0000:0000:021D:1290:0003:C890 00\r\n"
    b"EVENT 25 FE80:0000:0000:0000:021D:1290:0003:C890\r\n"
)

ECHONET_GET_RES = bytes.fromhex("1081000102880105ff017201e70400000226")


def test_scan_transcript() -> None:
    messages = sk.SkStackParser().feed(SCAN_TRANSCRIPT)
    assert messages == [
        sk.Ok(),
        sk.Event(0x20, SELF),
        sk.PanDescription(0x21, 9, 0x8888, "12345678ABCDEF01", 0xE1, "12345678"),
        sk.Event(0x22, SELF),
    ]
    pan = messages[2]
    assert isinstance(pan, sk.PanDescription)
    assert pan.channel == 33  # "21" is hex
    assert pan.rssi_dbm == pytest.approx(0.275 * 225 - 104.27, abs=0.05)


def test_join_transcript_with_a_hex_erxudp() -> None:
    messages = sk.SkStackParser().feed(JOIN_TRANSCRIPT)
    assert messages[1] == sk.Event(0x21, SELF, 0x02)
    udp = messages[3]
    assert isinstance(udp, sk.UdpReceived)
    assert (udp.rport, udp.lport, udp.secured, udp.sender_lla) == (716, 716, False,
                                                                    "12345678ABCDEF01")
    assert udp.data == b"\x00"  # hex text (WOPT 01), recognised without being told
    assert messages[-1] == sk.Event(sk.EventNumber.PANA_OK, SELF)


def test_erxudp_binary_data_may_hold_crlf_and_spaces() -> None:
    data = b"\x10\x81\r\n \x00\x01ERXUDP"
    udp = sk.UdpReceived(PAA, SELF, 0x0E1A, 0x0E1A, "12345678ABCDEF01", True, data)
    for hex_data in (False, True):
        line = sk.format_erxudp(udp, hex_data=hex_data)
        assert sk.SkStackParser("hex" if hex_data else "binary").feed(line) == [udp]
        assert sk.SkStackParser("auto").feed(line) == [udp]


def test_ok_with_a_value_fail_and_other_lines() -> None:
    messages = sk.SkStackParser().feed(
        b"SKVER\r\nEVER 1.2.10\r\nOK\r\nOK 01\r\nFAIL ER04\r\n"
        b"FE80:0000:0000:0000:021D:1290:1234:5678\r\n\r\n"
    )
    assert messages == [sk.Line("SKVER"), sk.Line("EVER 1.2.10"), sk.Ok(), sk.Ok("01"),
                        sk.Fail("ER04"), sk.Line(PAA)]
    fail = messages[4]
    assert isinstance(fail, sk.Fail) and "not supported" in fail.reason


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=60), st.booleans())
def test_any_chunking_gives_the_same_messages(cuts: list[int], hex_data: bool) -> None:
    udp = sk.UdpReceived(PAA, SELF, 0x0E1A, 0x0E1A, "12345678ABCDEF01", True, ECHONET_GET_RES)
    stream = SCAN_TRANSCRIPT + sk.format_erxudp(udp, hex_data=hex_data) + JOIN_TRANSCRIPT
    whole = sk.SkStackParser().feed(stream)
    parser = sk.SkStackParser()
    got: list[sk.Message] = []
    pos = 0
    for cut in cuts:
        got += parser.feed(stream[pos:pos + cut])
        pos += cut
    got += parser.feed(stream[pos:])
    assert got == whole
    assert udp in got


@given(st.binary(min_size=1, max_size=200), st.booleans())
def test_erxudp_round_trip(data: bytes, hex_data: bool) -> None:
    udp = sk.UdpReceived(PAA, SELF, 0x0E1A, 0x1234, "12345678ABCDEF01", True, data)
    parser = sk.SkStackParser("hex" if hex_data else "binary")
    assert parser.feed(sk.format_erxudp(udp, hex_data=hex_data) + b"OK\r\n") == [udp, sk.Ok()]


def test_garbage_is_refused_and_the_parser_recovers() -> None:
    parser = sk.SkStackParser("binary")
    with pytest.raises(ProtocolError):
        parser.feed(b"ERXUDP " + PAA.encode() + b" " + SELF.encode()
                    + b" 0E1A 0E1A 12345678ABCDEF01 1 0004 toolongdata\r\n")
    assert parser.feed(b"OK\r\n") == [sk.Ok()]
    with pytest.raises(ProtocolError):
        parser.feed(b"x" * (sk.MAX_LINE + 1))
    assert parser.feed(b"EVENT 29 " + PAA.encode() + b"\r\n") == [sk.Event(0x29, PAA)]
    with pytest.raises(ProtocolError):
        parser.feed(b"EPANDESC\r\n  Channel:21\r\nOK\r\n")  # a block cut short


def test_commands() -> None:
    assert sk.command("SKSREG", "S2", "21") == b"SKSREG S2 21\r\n"
    assert sk.set_password("0123456789AB") == b"SKSETPWD C 0123456789AB\r\n"
    assert sk.sendto(1, PAA.lower(), 0x0E1A, b"01234", secured=False) == (
        f"SKSENDTO 1 {PAA} 0E1A 0 0005 01234".encode()
    )
    secured = sk.sendto(1, PAA, 0x0E1A, b"\x10\x81")
    assert secured == f"SKSENDTO 1 {PAA} 0E1A 1 0002 ".encode() + b"\x10\x81"
    with pytest.raises(ValueError):
        sk.sendto(1, PAA, 0x0E1A, b"")
    with pytest.raises(ValueError):
        sk.command("SKSETRBID", "abc\r\nSKRESET")


def test_redact_hides_credentials() -> None:
    assert sk.redact(b"SKSETPWD C 0123456789AB\r\n") == "SKSETPWD ****"
    assert sk.redact(b"SKSETRBID 00112233445566778899AABBCCDDEEFF\r\n") == "SKSETRBID ****"
    sent = sk.sendto(1, PAA, 0x0E1A, b"\x10\x81")
    assert sk.redact(sent) == f"SKSENDTO 1 {PAA} 0E1A 1 0002 <data>"


@pytest.mark.parametrize(("mac", "address"), [
    ("12345678ABCDEF01", "FE80:0000:0000:0000:1034:5678:ABCD:EF01"),
    ("001D129012345678", "FE80:0000:0000:0000:021D:1290:1234:5678"),
    ("FDFFFFFFFFFFFFFF", "FE80:0000:0000:0000:FFFF:FFFF:FFFF:FFFF"),
])
def test_link_local_flips_the_universal_local_bit(mac: str, address: str) -> None:
    assert sk.link_local(mac) == address
    assert sk.format_ipv6(ipaddress.IPv6Address(address).compressed) == address
    with pytest.raises(ValueError):
        sk.parse_mac("12345")
