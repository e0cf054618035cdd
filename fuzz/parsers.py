"""Fuzz campaigns: every parser that reads bytes from the network or text from users.

    .venv/bin/python fuzz/parsers.py [--target all|echonet|broadlink|esphome|ir|rules]
                                     [--inputs 1000000] [--seed 1] [--slow-ms 500]

Not part of the test run (a million inputs per target take minutes); rerun it after changing a
parser. The tunnel's frames have their own campaign (fuzz/tunnel_frames.py). Targets:

  echonet    ECHONET Lite datagrams (integrations/echonet/frame.py decode)
  broadlink  Broadlink UDP packets: discovery request/reply, command frames, the payload
             opened with the default key, auth replies, 0x6A remote payloads (RM and RM4)
  esphome    ESPHome native API streams: plaintext frames, Noise frames, protobuf bodies of
             every message type, decrypted Noise messages
  ir         IR code files in every format (raw, Pronto, Broadlink base64/hex/bytes, Nature,
             Flipper, LIRC, JSON) and the protocol decoders behind them
  rules      rule YAML as `PUT /api/v1/rules` and `homehub rules import` read it

Each target has a list of valid inputs that are mutated (bit flips, inserted, deleted and
repeated bytes, spliced inputs, and for text: odd tokens, deep nesting, YAML aliases). An input
must parse or raise the parser's own error (ProtocolError, IrCodesError, RuleValidationError);
anything else, an input slower than --slow-ms, or memory that keeps growing is a finding,
printed with the input. The default engine is a seeded mutation fuzzer (the same --seed gives
the same inputs); `--engine atheris` runs the same targets coverage-guided under atheris
(libFuzzer; `pip install atheris`, a wheel exists for CPython 3.11 on x86_64), one child
process per target, the seeds as its starting corpus. Prints `name: value` lines per target;
exit status 1 on a finding.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ir_codes  # noqa: E402
from hub.rules.errors import RuleValidationError  # noqa: E402
from integrations.broadlink import packet as bl  # noqa: E402
from integrations.echonet import frame as en  # noqa: E402
from integrations.errors import ProtocolError  # noqa: E402
from integrations.esphome import frames as ef  # noqa: E402
from integrations.esphome import messages as em  # noqa: E402
from ir_codes.formats import FORMATS, decode_or_none, read_signals, render  # noqa: E402


def mutate_bytes(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    """Flip, insert, delete, repeat a few bytes, or splice in part of another input."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos:pos] = bytes([rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))])
        elif op == 2 and out:
            del out[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            out[pos:pos] = out[pos : pos + rng.randint(1, 16)] * rng.choice((1, 2, 50))
        elif op == 4 and out:
            out[min(pos, len(out) - 1)] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x01))
        else:
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            out[pos:] = other[cut:]
    return bytes(out)


# -- ECHONET Lite ---------------------------------------------------------------------------

LIST = b"\x01\x01\x30\x01"  # an instance list: one air conditioner
AIRCON, CONTROLLER = en.Eoj(0x01, 0x30, 0x01), en.Eoj(0x05, 0xFF, 0x01)


def echonet_seeds() -> list[bytes]:
    props = (en.Property(0x80, b"\x30"), en.Property(0xB3, b"\x1a"))
    return [
        en.encode(en.Frame(1, CONTROLLER, AIRCON, en.Esv.GET, (en.Property(0x80),))),
        en.encode(en.Frame(2, AIRCON, CONTROLLER, en.Esv.GET_RES, props)),
        en.encode(en.Frame(3, CONTROLLER, AIRCON, en.Esv.SETC, props)),
        en.encode(en.Frame(4, AIRCON, CONTROLLER, en.Esv.INF, (en.Property(0xD5, LIST),))),
        en.encode(en.Frame(5, CONTROLLER, AIRCON, en.Esv.SETGET, props, (en.Property(0x80),))),
    ]  # fmt: skip


def echonet_one(data: bytes) -> None:
    frame = en.decode(data)
    en.encode(frame)  # what decodes must encode again


# -- Broadlink --------------------------------------------------------------------------------

KEY = bytes.fromhex("097628343fe99e23765c1513accf8b02")  # the documented default key


def broadlink_seeds() -> list[bytes]:
    header = bl.CommandHeader(0x520B, 0x6A, 7, bytes(6), 1)
    send = bl.RemoteMessage(2, b"\x26\x00" * 8)
    return [
        bl.encode_discovery_request(bl.DiscoveryRequest("192.168.1.2", 40000)),
        bl.encode_discovery_reply(bl.DiscoveryReply(0x520B, bytes(range(6)), "RM4", False)),
        bl.encode_command(header, bl.encode_remote(send, length_prefix=True), KEY),
        bl.encode_command(header, bl.encode_auth_reply(1, KEY), KEY),
        bl.encode_remote(bl.RemoteMessage(4, b"\x26\x00\x04\x00"), length_prefix=False),
    ]  # fmt: skip


def broadlink_one(data: bytes) -> None:
    for parse in (bl.decode_discovery_request, bl.decode_discovery_reply):
        with contextlib.suppress(ProtocolError):
            parse(data)
    for prefixed in (True, False):
        with contextlib.suppress(ProtocolError):
            bl.decode_remote(data, length_prefix=prefixed)
    with contextlib.suppress(ProtocolError):
        bl.decode_auth_reply(data)
    frame = bl.decode_frame(data)
    bl.open_payload(frame, KEY)


# -- ESPHome ----------------------------------------------------------------------------------


def esphome_seeds() -> list[bytes]:
    hello = em.pb.HelloRequest(client_info="homehub", api_version_major=1, api_version_minor=9)
    state = em.pb.SensorStateResponse(key=7, state=21.5)
    listing = em.pb.ListEntitiesSensorResponse(
        object_id="t", key=7, name="Temp", unit_of_measurement="°C"
    )
    out = []
    for msg in (hello, state, listing, em.pb.PingRequest()):
        kind, body = em.encode(msg)
        out.append(ef.encode_plaintext_frame(kind, body))
        out.append(ef.encode_noise_frame(ef.pack_noise_message(kind, body)))
    return out  # fmt: skip


def esphome_one(data: bytes) -> None:
    # A node speaks one of the two framings; the hub reads with the one it configured.
    try:
        for kind, body in ef.PlaintextFrameReader().feed(data):
            em.decode(kind, body)
    except ProtocolError:
        pass
    for payload in ef.NoiseFrameReader().feed(data):
        kind, body = ef.unpack_noise_message(payload)
        em.decode(kind, body)


# -- IR formats -------------------------------------------------------------------------------


def ir_seeds() -> list[bytes]:
    out: list[bytes] = []
    for proto, addr, cmd in (("NEC", 0x04, 0x08), ("SONY", 1, 21), ("RC5", 0, 12), ("JVC", 1, 2)):
        raw = ir_codes.encode(proto, addr, cmd)
        for fmt in FORMATS:
            out.append(render(raw, fmt, name="power").encode())
    out.append(bytes.fromhex("26000c00") + bytes(12))  # a Broadlink packet as bytes
    return out


IR_CALLS = (None, *FORMATS)


def ir_one(data: bytes) -> None:
    # Files arrive as bytes (upload, CLI) and as text (JSON API); both paths, every format.
    # Half the time the format is guessed (detect_format), else one is forced (--from).
    fmt = IR_CALLS[data[-1] % len(IR_CALLS)] if data and data[0] % 2 else None
    refused: ir_codes.IrCodesError | None = None
    for given in (data, data.decode("utf-8", errors="replace")):
        try:
            for signal in read_signals(given, fmt):
                decode_or_none(signal.raw)
        except ir_codes.IrCodesError as err:
            refused = err
    if refused is not None:
        raise refused  # counted as refused (either path)


# -- rule YAML --------------------------------------------------------------------------------

RULES = b"""rules:
  - id: heater_left_on
    name: Bathroom heater left on
    mode: single
    triggers:
      - {type: state, device: heater, property: power, to: on, for: 10m}
    conditions:
      - {type: time, after: "22:00", before: "06:00"}
      - type: or
        conditions: [{type: weekday, days: [sat, sun]}]
    actions:
      - {type: set, device: heater, values: {power: false}}
      - {type: remind, message: Heater still on, every: 5m, max: 3}
  - id: morning
    triggers: [{type: cron, cron: "0 12 * * mon-fri"}, {type: time, at: "07:30"}]
    actions: [{type: delay, for: 1h30m}, {type: notify, title: Morning, message: Hi}]
"""
YAML_TOKENS = [b"&a [*a, *a]", b"*a", b"!!python/object:os.system", b"!!binary AAAA",
               b"[" * 200, b"{" * 200, b"? ", b"- - - - - - -", b"%TAG ! x", b"\t",
               b"\xef\xbb\xbf", b"1e999",
               b"0x_", b"null", b"~", b"'", b'"\\u0000"', b"<<: *a", b"--- |",
               b"!!set {a}"]  # fmt: skip


def rules_seeds() -> list[bytes]:
    laughs = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        b"%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n" % ((k, k) + (k - 1,) * 9)
        for k in range(ord("b"), ord("j"))
    )  # the "billion laughs": nine levels of nine aliases each
    return [RULES, laughs, b"- {id: x, triggers: [], actions: []}\n"]


def rules_mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    if rng.random() < 0.5:
        pos = rng.randrange(len(data) + 1)
        return data[:pos] + rng.choice(YAML_TOKENS) + data[pos:]
    return mutate_bytes(data, rng, seeds)


def rules_one(data: bytes) -> None:
    from hub.rules.yaml_io import load_rules_yaml

    load_rules_yaml(data.decode("utf-8", errors="replace"))


# -- driver -----------------------------------------------------------------------------------

Mutator = Callable[[bytes, random.Random, list[bytes]], bytes]
Target = tuple[
    Callable[[], list[bytes]], Callable[[bytes], Any], Mutator, tuple[type[BaseException], ...]
]
TARGETS: dict[str, Target] = {
    "echonet": (echonet_seeds, echonet_one, mutate_bytes, (ProtocolError,)),
    "broadlink": (broadlink_seeds, broadlink_one, mutate_bytes, (ProtocolError,)),
    "esphome": (esphome_seeds, esphome_one, mutate_bytes, (ProtocolError,)),
    "ir": (ir_seeds, ir_one, mutate_bytes, (ir_codes.IrCodesError,)),
    "rules": (rules_seeds, rules_one, rules_mutate, (RuleValidationError,)),
}  # fmt: skip


def campaign(name: str, args: argparse.Namespace) -> int:
    make_seeds, one, mutate, expected = TARGETS[name]
    rng = random.Random(f"{args.seed}:{name}")
    seeds = make_seeds()
    for seed in seeds:  # the seeds themselves parse or are refused cleanly
        with contextlib.suppress(*expected):
            one(seed)
    findings: list[str] = []
    accepted = refused = 0
    slowest = 0.0
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_half = rss_start
    t0 = time.monotonic()
    for n in range(args.inputs):
        if n == args.inputs // 2:
            rss_half = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        data = mutate(rng.choice(seeds), rng, seeds)
        start = time.perf_counter()
        try:
            one(data)
            accepted += 1
        except expected:
            refused += 1
        except Exception as err:  # a finding: anything but the parser's own error
            findings.append(f"{name} input {n}: {type(err).__name__}: {err}: {data[:300]!r}")
            if len(findings) >= 20:
                break
        took = time.perf_counter() - start
        slowest = max(slowest, took)
        if took * 1000 > args.slow_ms:
            findings.append(f"{name} input {n}: took {took * 1000:.0f} ms: {data[:300]!r}")
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Growth in the second half means memory that keeps growing (the first half warms caches).
    second_half_kb = rss_end - rss_half
    if args.inputs >= 100_000 and second_half_kb > 64 * 1024:
        findings.append(f"{name}: peak memory grew {second_half_kb} KiB in the second half")
    elapsed = time.monotonic() - t0
    print(f"{name}_inputs: {accepted + refused + len(findings)}")
    print(f"{name}_accepted: {accepted}")
    print(f"{name}_refused: {refused}")
    print(f"{name}_findings: {len(findings)}")
    print(f"{name}_slowest_ms: {slowest * 1000:.2f}")
    print(f"{name}_rss_growth_kb: {rss_end - rss_start}")
    print(f"{name}_inputs_per_s: {(accepted + refused) / max(elapsed, 1e-9):.0f}", flush=True)
    for finding in findings:
        print("FINDING", finding, flush=True)
    return len(findings)


def atheris_child(name: str, args: argparse.Namespace) -> None:
    """Run one target under atheris in this process (it exits when libFuzzer is done)."""
    import atheris

    make_seeds, one, _, expected = TARGETS[name]

    def test_one_input(data: bytes) -> None:
        with contextlib.suppress(*expected):  # anything else is a crash libFuzzer reports
            one(data)

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for n, seed in enumerate(make_seeds()):
        (corpus / f"seed-{n}").write_bytes(seed)
    atheris.instrument_all()  # coverage of the parsers (imported above) guides the mutations
    timeout_s = max(1, int(args.slow_ms / 1000 + 0.999))
    atheris.Setup(
        [sys.argv[0], f"-runs={args.inputs}", f"-seed={args.seed}", f"-timeout={timeout_s}",
         "-rss_limit_mb=2048", "-print_final_stats=1", str(corpus)],
        test_one_input,
    )
    atheris.Fuzz()


def atheris_campaign(name: str, args: argparse.Namespace) -> int:
    """One target in a child process; its libFuzzer summary as `name: value` lines."""
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--engine", "atheris-child", "--target", name,
         "--inputs", str(args.inputs), "--seed", str(args.seed), "--slow-ms", str(args.slow_ms)],
        capture_output=True, text=True, check=False,
    )
    log = done.stderr.splitlines()
    stat_lines = (line.rpartition(":") for line in log if line.startswith("stat::"))
    stats = {key: value for key, _, value in stat_lines}
    print(f"{name}_engine: atheris")
    print(f"{name}_inputs: {stats.get('stat::number_of_executed_units', '?').strip()}")
    print(f"{name}_peak_rss_mb: {stats.get('stat::peak_rss_mb', '?').strip()}")
    print(f"{name}_coverage_edges: {_last_cov(log)}")
    print(f"{name}_findings: {0 if done.returncode == 0 else 1}")
    print(f"{name}_wall_s: {time.monotonic() - t0:.0f}", flush=True)
    if done.returncode != 0:
        print("FINDING", name, "\n".join(log[-40:]), flush=True)
        return 1
    return 0


def _last_cov(log: list[str]) -> str:
    for line in reversed(log):
        if " cov: " in line:
            return line.split(" cov: ", 1)[1].split()[0]
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["all", *TARGETS], default="all")
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow-ms", type=float, default=500.0)
    parser.add_argument(
        "--engine", choices=["mutate", "atheris", "atheris-child"], default="mutate",
        help="mutate: seeded mutation fuzzer (default); atheris: coverage-guided (libFuzzer)",
    )
    args = parser.parse_args()
    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.engine == "atheris-child":
        atheris_child(names[0], args)
        return 0
    run = atheris_campaign if args.engine == "atheris" else campaign
    found = sum(run(name, args) for name in names)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
