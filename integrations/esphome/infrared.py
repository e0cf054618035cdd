"""ESPHome nodes as IR blasters: infrared entities, and codes to raw timings and back. No I/O.

IR devices keep their codes as Broadlink packets (the uniform form, see integrations.ir_devices);
an ESPHome transmitter takes signed raw timings (+ mark, - space, µs) with a carrier, so a code
goes packet -> RawSignal -> signed timings, and a captured frame goes the other way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aioesphomeapi import EntityInfo, InfraredCapability, InfraredInfo

from integrations.errors import CommandFailed
from ir_codes.errors import IrCodesError
from ir_codes.formats import broadlink as bl_format
from ir_codes.formats import esphome as esphome_format
from ir_codes.model import DEFAULT_CARRIER_HZ


@dataclass(frozen=True, slots=True)
class IrEntity:
    """One infrared entity of a node and what it can do."""

    key: int
    object_id: str
    name: str
    transmits: bool
    receives: bool
    receiver_frequency: int = 0  # Hz; 0 when the node does not say


@dataclass(frozen=True, slots=True)
class Transmission:
    """One raw-timing transmit request: what `infrared_rf_transmit_raw_timings` takes."""

    carrier_hz: int
    timings: tuple[int, ...]
    repeat_count: int

    @property
    def air_time_s(self) -> float:
        """How long the transmitter is busy with it."""
        return sum(abs(t) for t in self.timings) * max(self.repeat_count, 1) / 1_000_000


def ir_entities(entities: Iterable[EntityInfo]) -> tuple[IrEntity, ...]:
    """The infrared entities among a node's entities, in listing order."""
    return tuple(
        IrEntity(
            key=info.key,
            object_id=info.object_id,
            name=info.name,
            transmits=bool(info.capabilities & InfraredCapability.TRANSMITTER),
            receives=bool(info.capabilities & InfraredCapability.RECEIVER),
            receiver_frequency=info.receiver_frequency,
        )
        for info in entities
        if isinstance(info, InfraredInfo)
    )


def capability_summary(entities: Sequence[IrEntity]) -> dict[str, object]:
    """What a node offers as an IR blaster (for its device description's `extra`)."""
    return {
        "transmit": any(e.transmits for e in entities),
        "receive": any(e.receives for e in entities),
        "entities": [e.object_id for e in entities],
    }


def transmission_for(code: bytes) -> Transmission:
    """The transmit request for a Broadlink IR packet (its repeat byte counts extra sends)."""
    try:
        raw = bl_format.from_packet(code)
    except IrCodesError as err:  # the message says what is wrong with the packet
        raise CommandFailed(f"cannot send this code through an ESPHome blaster: {err}") from err
    carrier = raw.carrier_hz or bl_format.CARRIER_HZ
    return Transmission(carrier, tuple(esphome_format.to_signed(raw)), code[1] + 1)


def packet_from_capture(timings: Sequence[int], carrier_hz: int = 0) -> bytes:
    """A Broadlink IR packet for what a receiver captured (signed timings)."""
    try:
        raw = esphome_format.from_signed(timings, carrier_hz or DEFAULT_CARRIER_HZ)
        return bl_format.to_packet(raw)
    except IrCodesError as err:
        raise CommandFailed(
            f"the IR receiver reported a capture that cannot be kept ({err}); try again"
        ) from err
