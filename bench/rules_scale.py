"""Rules: does the engine's cost per event stay flat as the number of rules grows?

For each size (1,000 / 10,000 / 100,000 rules) a fresh process starts a real hub (SQLite store,
registry, bus, rule engine with traces and the trace writer) with no integration, and stores
the rules through `RulesEngine.save_many`. The event mix is the same at every size:

  * 100 "hot" virtual devices; each has exactly two rules on its `temperature` (a `state`
    trigger each): one whose numeric condition holds (`above: 10`) and whose action fires the
    event `bench_done`, one whose condition fails (`below: 0`, traced as condition_failed).
    So every event touches exactly two rules and completes exactly one run.
  * The rest of the rules (size - 200) look the same but watch 10 rules per "cold" device
    (`temperature` and `power` triggers, numeric conditions, set/event actions); cold devices
    send nothing during the timed part. They are not registered devices: the registry's size
    is not what this measures, and the engine does not need them to exist.
  * Throughput: 20,000 temperature reports to the hot devices, one per event-loop turn (as
    if each came from a socket; every value differs from the device's last one), timed until
    the 20,000th `bench_done` arrives; `events_per_s_<n>` = 20,000 / that time. Rules run in
    mode single, so a report arriving while the device's last run is still going is skipped
    and traced as such, and the burst would stall; one per turn lets each run finish first.
  * Latency: 2,000 single reports one after another, each timed from `DeviceRegistry.report()`
    to the delivery of its `bench_done`: `p50_ms_<n>`, `p99_ms_<n>`.
  * `rss_mb_<n>`: the process's resident memory after all that (rules, indexes, traces kept).

Printed: the figures per size, `scale_ratio` = events/s at the largest size / at the smallest
(target >= 0.8: rules that an event does not touch must not cost anything), and `rss_100k_mb`.
`--quick` (for CI) runs 1,000 / 5,000 / 20,000 rules with fewer events, and says so.

Run: python bench/rules_scale.py [--quick] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOT = 100
COLD_PER_DEVICE = 10


def rule_docs(n: int) -> list[dict[str, Any]]:
    """The `n` rules: two per hot device (one passes its condition, one fails), the rest cold."""
    docs: list[dict[str, Any]] = []
    for d in range(HOT):
        dev = f"hot-{d}"
        trig = {"type": "state", "device": dev, "property": "temperature"}
        docs.append(
            {
                "id": f"hot-{d}-pass",
                "triggers": [trig],
                "conditions": [
                    {"type": "numeric", "device": dev, "property": "temperature", "above": 10}
                ],
                "actions": [{"type": "event", "name": "bench_done", "data": {"d": d}}],
            }
        )
        docs.append(
            {
                "id": f"hot-{d}-fail",
                "triggers": [trig],
                "conditions": [
                    {"type": "numeric", "device": dev, "property": "temperature", "below": 0}
                ],
                "actions": [{"type": "event", "name": "bench_never", "data": {"d": d}}],
            }
        )
    for j in range(n - len(docs)):
        dev = f"cold-{j // COLD_PER_DEVICE}"
        prop = "temperature" if j % 2 else "power"
        trig: dict[str, Any] = {"type": "state", "device": dev, "property": prop}
        if prop == "power":
            trig["to"] = True
        action: dict[str, Any] = (
            {"type": "set", "device": dev, "values": {"power": False}}
            if j % 3
            else {"type": "event", "name": f"cold_{j % 50}"}
        )
        docs.append(
            {
                "id": f"cold-{j}",
                "triggers": [trig],
                "conditions": [
                    {"type": "numeric", "device": dev, "property": "temperature", "above": j % 30}
                ],
                "actions": [action],
            }
        )
    return docs


async def one_size(n: int, events: int, lat_n: int) -> dict[str, Any]:
    """Run the workload with `n` rules in this process; figures as a dict."""
    import logging

    import psutil

    from hub.app import Hub
    from hub.config import HubConfig
    from hub.events import NamedEvent
    from hub.model import DeviceDescription, spec_for
    from hub.rules import Rule, RulesEngine

    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        config = HubConfig(data_dir=Path(tmp), api_host="127.0.0.1", api_port=0, advertise=False)
        engine = RulesEngine(sinks=[])
        hub = Hub(config, integrations=[], components=[engine])
        await hub.start()
        try:
            reg = hub.registry
            spec = {"temperature": spec_for("temperature"), "power": spec_for("power")}
            for d in range(HOT):
                await reg.add_device(
                    DeviceDescription(
                        id=f"hot-{d}",
                        integration="virtual",
                        name=f"hot {d}",
                        model="bench",
                        properties=spec,
                    )
                )
                await reg.report(f"hot-{d}", {"temperature": 0.0, "power": False})
            t = time.perf_counter()
            await engine.save_many([Rule.model_validate(doc) for doc in rule_docs(n)])
            load_s = time.perf_counter() - t

            got: list[float] = []
            target = [events]
            done = asyncio.Event()

            def on_done(ev: NamedEvent) -> None:
                if ev.name == "bench_done":
                    got.append(time.perf_counter())
                    if len(got) >= target[0]:
                        done.set()

            hub.bus.subscribe(on_done, [NamedEvent])
            t = time.perf_counter()
            for k in range(events):
                value = 20.0 + (k % 7919) * 0.001
                await reg.report(f"hot-{k % HOT}", {"temperature": value})
                await asyncio.sleep(0)  # as if each report came in from a socket of its own
            await asyncio.wait_for(done.wait(), 300)
            elapsed = time.perf_counter() - t
            await asyncio.sleep(0.05)
            lats = []
            for k in range(lat_n):
                got.clear()
                done.clear()
                target[0] = 1
                t = time.perf_counter()
                await reg.report(f"hot-{k % HOT}", {"temperature": 60.0 + k * 0.001})
                await asyncio.wait_for(done.wait(), 60)
                lats.append((got[0] - t) * 1000)
                await asyncio.sleep(0)
            lats.sort()
            failed = sum(
                1
                for d in range(HOT)
                for tr in engine.traces(f"hot-{d}-fail")
                if tr["result"] == "condition_failed"
            )
            return {
                "load_s": load_s,
                "events_per_s": events / elapsed,
                "p50_ms": lats[len(lats) // 2],
                "p99_ms": lats[int(len(lats) * 0.99)],
                "rss_mb": psutil.Process().memory_info().rss / 1e6,
                "failed_traced": failed,
            }
        finally:
            await hub.stop()


def run_size(n: int, events: int, lat_n: int) -> dict[str, Any]:
    """One size in a fresh process, so each RSS figure is that size's own."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(n), str(events), str(lat_n)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"the run with {n} rules failed (exit {out.returncode})")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    """Run each size and print `name: value` lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--sizes", help="comma-separated rule counts (default 1000,10000,100000)")
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(one_size(*args.one))))
        return 0
    if args.quick:
        sizes, events, lat_n = [1_000, 5_000, 20_000], 5_000, 500
    else:
        sizes, events, lat_n = [1_000, 10_000, 100_000], 20_000, 2_000
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < 2 * HOT:
        parser.error(f"each size needs at least {2 * HOT} rules (the hot ones)")
    if args.quick:
        print(f"mode: quick ({events} events, {lat_n} latency samples)")
    print(f"events: {events}")
    figures = {}
    for n in sizes:
        fig = run_size(n, events, lat_n)
        figures[n] = fig
        print(f"load_s_{n}: {fig['load_s']:.2f}")
        print(f"events_per_s_{n}: {fig['events_per_s']:.0f}")
        print(f"p50_ms_{n}: {fig['p50_ms']:.3f}")
        print(f"p99_ms_{n}: {fig['p99_ms']:.3f}")
        print(f"rss_mb_{n}: {fig['rss_mb']:.1f}")
        if fig["failed_traced"] == 0:
            print(f"error: no condition_failed traces at {n} rules; the mix did not run")
            return 1
    small, large = min(sizes), max(sizes)
    ratio = figures[large]["events_per_s"] / figures[small]["events_per_s"]
    print(f"scale_ratio: {ratio:.2f}")
    if 100_000 in figures:
        print(f"rss_100k_mb: {figures[100_000]['rss_mb']:.1f}")
    else:
        print(f"rss_100k_mb: skipped (this run's largest size is {large})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
