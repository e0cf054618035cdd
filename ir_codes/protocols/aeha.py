"""AEHA (家製協, the Japanese household-appliance format) and Panasonic's Kaseikyo form of it.

AEHA: leader 8T+4T (T 350-500 µs, typically 425), 0 = T/T, 1 = T/3T, trailer T, gap ≥ 8 ms.
LSB-first bytes: 16-bit customer code, parity nibble (XOR of the customer nibbles), data0
nibble, then data bytes. Here `address` is the customer code and `command` is everything after
the parity nibble (data0 in its low 4 bits), `bits` the whole frame length.

Kaseikyo (48 bits, T = 432 µs): vendor id 16, vendor parity 4, genre1 4, genre2 4, command 10,
id 2, checksum 8 (XOR of bytes 2..4). `address` packs id << 24 | vendor << 8 | genre1 << 4 |
genre2, the layout Flipper Zero's .ir files use, so parsed Flipper entries map one to one.
IRremoteESP8266 prints these bytes MSB-first, so its manufacturer 0x4004 is vendor 0x2002.
"""

from __future__ import annotations

from statistics import mean

from ir_codes.errors import EncodeError
from ir_codes.model import IrCode, RawSignal
from ir_codes.protocols._codec import Codec, check_field, extra_int
from ir_codes.protocols._timing import (
    PulseDistance,
    Timeline,
    bits_lsb,
    bits_to_bytes,
    bytes_to_bits,
    int_lsb,
    near,
)

AEHA_CARRIER_HZ = 38_000
AEHA_T = 425
AEHA_GAP = 10_000
KASEIKYO_CARRIER_HZ = 36_700  # IRremoteESP8266's Panasonic carrier
KASEIKYO_T = 432
KASEIKYO = PulseDistance(3456, 1728, 432, 1296, 432, 432, gap=5_000, frame_us=163_296)
PANASONIC_VENDOR = 0x2002


def aeha_frame(t_us: int) -> PulseDistance:
    """Frame timing for a given AEHA unit T."""
    return PulseDistance(8 * t_us, 4 * t_us, t_us, 3 * t_us, t_us, t_us, gap=AEHA_GAP)


def vendor_parity(customer: int) -> int:
    """XOR of the four nibbles of a 16-bit customer/vendor code."""
    return (customer ^ customer >> 4 ^ customer >> 8 ^ customer >> 12) & 0xF


def aeha_bytes(customer: int, command: int, nbytes: int) -> bytes:
    """Frame bytes: customer code (LE), parity nibble + command."""
    payload = command << 4 | vendor_parity(customer)
    return customer.to_bytes(2, "little") + payload.to_bytes(nbytes - 2, "little")


def encode_aeha(code: IrCode) -> RawSignal:
    """AEHA frame; `bits` (default 48, a multiple of 8, ≥ 24) sets the length, extra `t_us` T."""
    nbits = code.bits or 48
    if nbits % 8 or nbits < 24:
        raise EncodeError(f"AEHA frames are whole bytes, at least 24 bits; got {nbits}")
    check_field("AEHA", "address", code.address, 16)
    check_field("AEHA", "command", code.command, nbits - 20)
    t_us = extra_int(code.extras, "t_us", AEHA_T)
    if not 300 <= t_us <= 600:
        raise EncodeError(f"AEHA unit T must be 300..600 µs (typically 425), got {t_us}")
    line = Timeline()
    aeha_frame(t_us).write(line, bytes_to_bits(aeha_bytes(code.address, code.command, nbits // 8)))
    return RawSignal(AEHA_CARRIER_HZ, line.result(), 33)


def read_aeha_bytes(t: tuple[int, ...]) -> tuple[bytes, int] | None:
    """Frame bytes and the estimated unit T of a leading AEHA-shaped frame, or None."""
    if len(t) < 20 or not 2_000 <= t[0] <= 5_600:
        return None
    # T is the mean of the frame's bit marks: one jittered header would skew it.
    rough = t[0] / 8
    marks = []
    for k in range(2, len(t), 2):
        marks.append(t[k])
        if k + 1 < len(t) and t[k + 1] > 6 * rough:
            break
    t_us = round(mean(marks))
    if not 280 <= t_us <= 650 or not near(t[0], 8 * t_us) or not near(t[1], 4 * t_us):
        return None
    got = aeha_frame(t_us).read(t, 0)
    if got is None or len(got[0]) % 8 or len(got[0]) < 24:
        return None
    return bits_to_bytes(got[0]), t_us


def decode_aeha(raw: RawSignal) -> IrCode | None:
    """Decode any AEHA frame whose parity nibble is right."""
    got = read_aeha_bytes(raw.timings_us)
    if got is None:
        return None
    data, t_us = got
    customer = int.from_bytes(data[:2], "little")
    payload = int.from_bytes(data[2:], "little")
    if payload & 0xF != vendor_parity(customer):
        return None
    extras = {"t_us": t_us} if abs(t_us - AEHA_T) > 12 else {}
    return IrCode("AEHA", customer, payload >> 4, len(data) * 8, extras)


def kaseikyo_bytes(address: int, command: int, parity: int | None = None) -> bytes:
    """The six Kaseikyo frame bytes."""
    vendor = address >> 8 & 0xFFFF
    genre1, genre2, ident = address >> 4 & 0xF, address & 0xF, address >> 24 & 0x3
    par = vendor_parity(vendor) if parity is None else parity & 0xF
    bits = bits_lsb(vendor, 16) + bits_lsb(par, 4) + bits_lsb(genre1, 4) + bits_lsb(genre2, 4)
    bits += bits_lsb(command, 10) + bits_lsb(ident, 2)
    data = bits_to_bytes(bits)
    return data + bytes([data[2] ^ data[3] ^ data[4]])


def encode_kaseikyo(code: IrCode) -> RawSignal:
    """Kaseikyo 48-bit frame; extra `vendor_parity` overrides the computed parity nibble."""
    check_field("KASEIKYO", "address", code.address, 26)
    check_field("KASEIKYO", "command", code.command, 10)
    parity = code.extras.get("vendor_parity")
    data = kaseikyo_bytes(code.address, code.command, None if parity is None else int(parity))
    line = Timeline()
    KASEIKYO.write(line, bytes_to_bits(data))
    return RawSignal(KASEIKYO_CARRIER_HZ, line.result(), 50)


def decode_kaseikyo(raw: RawSignal) -> IrCode | None:
    """Decode a Kaseikyo frame (checksum must match; parity must too unless vendor is Panasonic)."""
    got = KASEIKYO.read(raw.timings_us, 0, 48)
    if got is None:
        return None
    bits = got[0]
    data = bits_to_bytes(bits)
    if data[5] != data[2] ^ data[3] ^ data[4]:
        return None
    vendor = int_lsb(bits[:16])
    parity = int_lsb(bits[16:20])
    if parity != vendor_parity(vendor) and vendor != PANASONIC_VENDOR:
        return None
    address = int_lsb(bits[38:40]) << 24 | vendor << 8
    address |= int_lsb(bits[20:24]) << 4 | int_lsb(bits[24:28])
    extras = {} if parity == vendor_parity(vendor) else {"vendor_parity": parity}
    return IrCode("KASEIKYO", address, int_lsb(bits[28:38]), 48, extras)


AEHA_CODEC = Codec(
    "AEHA",
    encode_aeha,
    decode_aeha,
    aliases=("KADENKYO",),
    default_bits=48,
    address_bits=16,
    command_bits=28,
)
KASEIKYO_CODEC = Codec(
    "KASEIKYO",
    encode_kaseikyo,
    decode_kaseikyo,
    aliases=("PANASONIC", "PANASONIC48"),
    default_bits=48,
    address_bits=26,
    command_bits=10,
)
