"""Fuzz campaign: the relay tunnel's frame codec (relay/protocol.py) on mutated frames.

    .venv/bin/python fuzz/tunnel_frames.py [--inputs 1000000] [--seed 1]

Not part of the test run (it takes minutes); rerun it after changing the codec. Every input
must either decode to a message that encodes again, or raise ProtocolError; anything else
(another exception, a decode slower than --slow-ms, memory growing without bound) is a
finding, printed with the input that caused it. atheris is not installable here, so this is a
seeded mutation fuzzer over one valid frame of every message type plus JSON-aware mutations
(other value types, deep nesting, huge numbers, unknown fields). Prints `name: value` lines.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relay import protocol as p  # noqa: E402

SEEDS: list[p.Message] = [
    p.Challenge("nonce"),
    p.Auth("a2V5", "c2ln", "hub_1", "Home", p.PROTOCOL_VERSION, p.PURPOSE_TUNNEL),
    p.Welcome("h_1", 20.0, {"dev": "abc"}),
    p.ShadowUpdate("dev", 3, {"name": "Lamp", "shadow": {"reported": {"power": True}}}),
    p.ShadowGone("dev"),
    p.ResyncDone(("a", "b")),
    p.Request(1, "GET", "/api/v1/devices", {"room": "x"}, {"accept": "json"}, None, "acc_1"),
    p.Response(1, 200, {"ok": True}),
    p.EventFrame({"type": "state", "device": "dev"}),
    p.Ping(1.5),
    p.Pong(1.5),
    p.ClaimCodeRequest(2),
    p.ClaimCode(2, "ABCDE-FGHJK", 600.0),
    p.Drain(3.0, "bye"),
    p.ErrorFrame(4, "no"),
    p.BackupPut(5, "bk", "vault", 10, "00" * 32, 3),
    p.BackupChunk(5, 0, "AAAA"),
    p.BackupDone(5),
    p.BackupAck(5, 0, "obj", 10, 100),
]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 1e308, float("nan"), "", "x" * 1000, [], {}, [[[[]]]], {"a": {}},
    "\u0000", "\ud800", 3.5, [1, "a", None],
]  # fmt: skip


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip, insert, delete or duplicate a few bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and out:
            del out[pos : pos + rng.randint(1, 8)]
        else:
            out[pos:pos] = out[pos : pos + rng.randint(1, 16)]
    return bytes(out)


def mutate_json(doc: dict[str, Any], rng: random.Random) -> str:
    """Replace a field with an odd value, nest it deeply, or add unknown fields."""
    doc = dict(doc)
    keys = list(doc)
    op = rng.randrange(4)
    if op == 0 and keys:
        doc[rng.choice(keys)] = rng.choice(ODD_VALUES)
    elif op == 1 and keys:
        depth = rng.choice((10, 63, 64, 65, 500, 5000))
        doc[rng.choice(keys)] = json.loads("[" * depth + "]" * depth) if depth < 900 else None
        if depth >= 900:
            return json.dumps(doc)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif op == 2:
        doc[f"extra{rng.randrange(100)}"] = rng.choice(ODD_VALUES)
    elif keys:
        del doc[rng.choice(keys)]
    return json.dumps(doc, allow_nan=True)


def one_input(rng: random.Random, seeds: list[str]) -> bytes | str:
    seed = rng.choice(seeds)
    if rng.random() < 0.5:
        return mutate_json(json.loads(seed), rng)
    return mutate_bytes(seed.encode(), rng)


def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    seeds = [p.encode(m) for m in SEEDS]
    findings: list[str] = []
    decoded = refused = 0
    slowest = 0.0
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    for n in range(args.inputs):
        data = one_input(rng, seeds)
        start = time.perf_counter()
        try:
            message = p.decode(data)
            p.encode(message)  # what decodes must encode again
            decoded += 1
        except p.ProtocolError:
            refused += 1
        except Exception as err:  # a finding: anything but ProtocolError escaping
            findings.append(f"input {n}: {type(err).__name__}: {err}: {data[:200]!r}")
            if len(findings) >= 20:
                break
        took = time.perf_counter() - start
        slowest = max(slowest, took)
        if took * 1000 > args.slow_ms:
            findings.append(f"input {n}: took {took * 1000:.0f} ms: {data[:200]!r}")
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start
    print(f"inputs: {decoded + refused + len(findings)}")
    print(f"decoded: {decoded}")
    print(f"refused_protocol_error: {refused}")
    print(f"findings: {len(findings)}")
    print(f"slowest_ms: {slowest * 1000:.2f}")
    print(f"rss_growth_kb: {rss_growth}")
    print(f"inputs_per_s: {(decoded + refused) / (time.monotonic() - t0):.0f}")
    for finding in findings:
        print("FINDING", finding)
    return 1 if findings else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow-ms", type=float, default=500.0)
    sys.exit(main(parser.parse_args()))
