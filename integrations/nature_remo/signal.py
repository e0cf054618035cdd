"""Nature Remo signal bodies and the hub's uniform IR code form. Pure: no I/O.

A Remo speaks ``{"format": "us", "freq": 38, "data": [mark, space, ...]}`` (freq in kHz,
durations in µs starting with a mark). IR devices keep their codes as Broadlink packets
(integrations.ir_devices), so a code goes packet -> RawSignal -> body, and a learned body goes
the other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.errors import CommandFailed, ProtocolError
from ir_codes.errors import IrCodesError
from ir_codes.formats import broadlink as bl_format
from ir_codes.formats import nature as nature_format
from ir_codes.model import RawSignal

# A frame that ends on a mark needs a space before the next copy; 40 ms is longer than the
# inter-frame gap of every protocol ir_codes sends (NEC's repeat period leaves ~40 ms).
REPEAT_GAP_US = 40_000
# The longest body we send: a Remo keeps the signal in RAM; real A/C frames stay well below.
MAX_TIMINGS = 2_000


@dataclass(frozen=True, slots=True)
class RemoSignal:
    """One IR signal as the Remo's local API carries it."""

    freq_khz: int
    data: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """The request/response body."""
        return {"format": "us", "freq": self.freq_khz, "data": list(self.data)}

    @property
    def air_time_s(self) -> float:
        """How long a blaster is busy sending it."""
        return sum(self.data) / 1_000_000

    def raw(self) -> RawSignal:
        """As ir_codes' raw signal (for decoding)."""
        return RawSignal.from_timings(self.data, self.freq_khz * 1000)


def parse_body(body: Any) -> RemoSignal | None:
    """A signal body as a device or a client sends it; None for "nothing received yet"
    (an empty body, ``{}`` or an empty data list). ProtocolError says what is wrong."""
    if body in (None, "", {}):
        return None
    if not isinstance(body, Mapping):
        raise ProtocolError("a Remo signal must be a JSON object with format, freq and data")
    if body.get("data") == []:
        return None
    try:
        raw = nature_format.from_nature(body)
    except IrCodesError as err:
        raise ProtocolError(str(err)) from err
    if len(raw.timings_us) > MAX_TIMINGS:
        raise ProtocolError(f"a Remo signal holds at most {MAX_TIMINGS} durations")
    return RemoSignal(round(raw.carrier_hz / 1000), raw.timings_us)


def signal_for(code: bytes) -> RemoSignal:
    """The body that sends a Broadlink IR packet, its repeat byte expanded into extra copies
    (a Remo sends exactly the durations it is given, once)."""
    try:
        raw = bl_format.from_packet(code)
    except IrCodesError as err:  # the message says what is wrong with the packet
        raise CommandFailed(f"cannot send this code through a Nature Remo: {err}") from err
    frame = list(raw.timings_us)
    if len(frame) % 2:
        frame.append(REPEAT_GAP_US)
    copies = code[1] + 1
    if len(frame) * copies > MAX_TIMINGS:
        raise CommandFailed(
            f"this code repeated {copies} times is {len(frame) * copies} durations; a Remo "
            f"takes at most {MAX_TIMINGS}: send fewer repeats"
        )
    khz = round((raw.carrier_hz or bl_format.CARRIER_HZ) / 1000)
    return RemoSignal(khz, tuple(frame * copies))


def packet_from_signal(signal: RemoSignal) -> bytes:
    """A Broadlink IR packet for what a Remo received (the uniform form IR devices keep)."""
    try:
        return bl_format.to_packet(signal.raw())
    except IrCodesError as err:
        raise CommandFailed(
            f"the Remo heard a signal that cannot be kept ({err}); press the button again"
        ) from err
