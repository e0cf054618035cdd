"""ir_codes benchmark: how fast captures are identified and A/C frames are built.

Prints `name: value` lines:
    decode_nec_per_s         decode_any on an NEC capture (the first protocol tried)
    decode_aeha_per_s        decode_any on a 6-byte AEHA capture (the last protocol tried)
    decode_daikin_per_s      decode_any on a 35-byte Daikin capture
    decode_jittered_rc6_per_s  decode_any on a ±15 % jittered RC-6 capture
    encode_ac_daikin_per_s   encode_ac for Daikin (state bytes + checksums + timings)
    broadlink_round_trip_per_s  to_packet + from_packet of a Daikin frame
--quick measures each for 0.05 s instead of 0.5 s (CI keeps the bench from rotting).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ir_codes  # noqa: E402
from ir_codes.formats import broadlink  # noqa: E402


def _rate(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Calls per second over about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.05 s per figure")
    seconds = 0.05 if parser.parse_args().quick else 0.5

    def rate(fn: Callable[[], object]) -> float:
        return _rate(fn, seconds)

    nec = ir_codes.encode("NEC", 0x04, 0x08)
    aeha = ir_codes.encode("AEHA", 0x1234, 0x56789, bits=48)
    daikin = ir_codes.encode_ac("daikin", ir_codes.AcState())
    rng = random.Random(1)
    rc6 = ir_codes.encode("RC6", 0x31, 0xC4)
    rc6_jittered = ir_codes.RawSignal.from_timings(
        [t * rng.uniform(0.85, 1.15) for t in rc6.timings_us], rc6.carrier_hz
    )
    print(f"decode_nec_per_s: {rate(lambda: ir_codes.decode(nec)):.0f}")
    print(f"decode_aeha_per_s: {rate(lambda: ir_codes.decode(aeha)):.0f}")
    print(f"decode_daikin_per_s: {rate(lambda: ir_codes.decode(daikin)):.0f}")
    print(f"decode_jittered_rc6_per_s: {rate(lambda: ir_codes.decode(rc6_jittered)):.0f}")
    state = ir_codes.AcState()
    print(f"encode_ac_daikin_per_s: {rate(lambda: ir_codes.encode_ac('daikin', state)):.0f}")
    print(
        "broadlink_round_trip_per_s: "
        f"{rate(lambda: broadlink.from_packet(broadlink.to_packet(daikin))):.0f}"
    )


if __name__ == "__main__":
    main()
