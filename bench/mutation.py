#!/usr/bin/env python3
"""Mutation testing as a figure: how many deliberate bugs the tests catch, per module.

Runs cosmic-ray (https://cosmic-ray.readthedocs.io) over the modules where a silent bug costs
most, each with the tests that cover it, and prints per module and overall:

    <module>.mutants / .killed / .survived / .timeout / .incompetent / .score   (killed / mutants)
    <module>.annotations_left_out   mutants inside type annotations, which never run (the
                                    project uses `from __future__ import annotations`)

A mutant is one small change to the source (`>` to `>=`, `+` to `-`, a constant, a `break`...);
it is killed when the module's tests fail on it (a timeout counts as killed, and is shown too).
Survivors are listed with their diff (`--show-survivors`) so each can be killed by a new test or
named as equivalent in bench/mutation_equivalents.txt.

How it runs: the project is copied to a scratch folder (cosmic-ray edits files in place), the
module's tests run once unmutated (they must pass, and their time sets the per-mutant timeout),
then each mutant runs them with `pytest -x` in a fresh process. Sessions are kept in
`--work` (default .mutation/), so a rerun continues where the last one stopped; `--fresh`
starts over. `--sample N` runs N mutants per module spread evenly over it (an estimate, and
says so: `<module>.sampled_of`). A full run takes hours on two cores; `--quick` runs a sample
of 12 mutants of one small module (CI). The test data must be there (HOMEHUB_TESTDATA):
a test that skips would let mutants survive for no reason.

    python bench/mutation.py --quick
    python bench/mutation.py --module echonet.frame --module relay.protocol --show-survivors
    python bench/mutation.py --sample 60  # every module, 60 mutants each
    python bench/mutation.py --sample 40 --sample-offset 5  # 40 others, beside the first 40
    python bench/mutation.py              # every mutant of every module below
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("hub", "relay", "tui", "integrations", "ir_codes", "tests", "pyproject.toml")


@dataclass(frozen=True)
class Target:
    """One module to mutate and the tests that should catch its mutants."""

    name: str
    path: str
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()


TARGETS = (
    Target("ir_codes.nec", "ir_codes/protocols/nec.py",
           ("tests/ir_codes/test_ir_protocols.py", "tests/ir_codes/test_ir_vectors.py")),
    Target("ir_codes.aeha", "ir_codes/protocols/aeha.py",
           ("tests/ir_codes/test_ir_protocols.py", "tests/ir_codes/test_ir_vectors.py")),
    Target("echonet.frame", "integrations/echonet/frame.py",
           ("tests/integrations/echonet/test_echonet_frame.py",
            "tests/integrations/echonet/test_echonet_openecho.py")),
    Target("echonet.controller", "integrations/echonet/controller.py",
           ("tests/integrations/echonet/test_echonet_integration.py",)),
    Target("relay.protocol", "relay/protocol.py", ("tests/relay/test_relay_protocol.py",)),
    Target("hub.shadow", "hub/core/shadow.py",
           ("tests/hub/test_hub_shadow.py", "tests/hub/test_hub_api_contract.py")),
    Target("hub.registry", "hub/core/registry.py",
           ("tests/hub/test_hub_shadow.py", "tests/hub/test_hub_api_contract.py",
            "tests/hub/test_hub_api.py")),
    Target("relay.queue", "relay/queue_delivery.py",
           ("tests/relay/test_relay_queue_delivery.py", "tests/relay/test_relay_end_to_end.py",
            "tests/relay/test_relay_resilience.py"),
           ("-k", "sqlite")),
    # One store backend is enough for these mutants; tests that take no backend run too.
    Target("relay.ownership", "relay/phone/context.py",
           ("tests/relay/test_relay_isolation.py", "tests/relay/test_relay_members.py",
            "tests/relay/test_relay_sessions_cookie.py"), ("-k", "not postgres")),
)
QUICK = "ir_codes.nec"
QUICK_SAMPLE = 12


@dataclass
class Tally:
    """Outcomes of one module's mutants."""

    mutants: int = 0
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    incompetent: int = 0
    pending: int = 0
    sampled_of: int = 0  # all mutants of the module when only a sample ran
    annotations: int = 0  # left out: inside annotations, equivalent by construction

    @property
    def score(self) -> float:
        return self.killed / self.mutants if self.mutants else 0.0

    def add(self, other: Tally) -> None:
        for name in ("mutants", "killed", "survived", "timeout", "incompetent", "pending",
                     "sampled_of", "annotations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _copy_project(dest: Path) -> None:
    """A scratch copy that cosmic-ray may edit (never the checkout itself)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def _test_command(target: Target) -> str:
    # Plugins we do not need are not loaded: each mutant starts a new pytest.
    # Quoted as a shell would (cosmic-ray splits it with shlex): `-k "not postgres"`.
    return shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                       "-p", "asyncio", "-p", "hypothesis", "-p", "timeout",
                       *target.pytest_args, *target.tests])


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)  # subprocesses import the mutated copy, not the checkout
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    for key in [k for k in env if k.startswith("HOMEHUB_REQUIRE")]:
        env.pop(key)
    env["HOMEHUB_REQUIRE_TESTDATA"] = "1"  # tests must not skip on missing data (tests/skip_policy)
    # The copy lives under --work, so the tests' default (../shared/testdata next to the
    # project) would point inside the work folder: name the checkout's test data instead.
    env.setdefault("HOMEHUB_TESTDATA", str(ROOT.parent / "shared" / "testdata"))
    return env


def _baseline(target: Target, copy: Path) -> float:
    """Run the tests unmutated; they must pass. Returns their wall time."""
    start = time.monotonic()
    done = subprocess.run(shlex.split(_test_command(target)), cwd=copy, env=_env(copy),
                          capture_output=True, text=True, check=False)
    took = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{target.name}: the tests fail before any mutation; fix them first:\n"
                         f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return took


def _config(target: Target, copy: Path, timeout_s: float, path: Path) -> None:
    path.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{target.path}"\n'
        f"timeout = {timeout_s:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {_test_command(target)!r}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


ANNOTATION = "equivalent: inside a type annotation, which is never evaluated"


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of every annotation, when the module never evaluates them.

    Under `from __future__ import annotations` an annotation is a string at run time, so a
    mutant inside one (`X | None` -> `X >> None`: eight operators per `|`) cannot change
    behaviour. They made up to a third of a module's mutants and drowned the real ones.
    """
    tree = ast.parse(source)
    future = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                 and any(a.name == "annotations" for a in node.names) for node in tree.body)
    if not future:
        return []
    spans = []
    for node in ast.walk(tree):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for ann in found:
            if ann is not None and ann.end_lineno is not None and ann.end_col_offset is not None:
                spans.append(((ann.lineno, ann.col_offset), (ann.end_lineno, ann.end_col_offset)))
    return spans


def _skip_annotations(session: Path, source: Path) -> None:
    """Mark the mutants that lie inside annotations as skipped (equivalent by construction)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = _annotation_spans(source.read_text())
    with use_db(str(session), WorkDB.Mode.open) as db:
        inside = [
            w.job_id for w in db.work_items
            if any(start <= tuple(w.mutations[0].start_pos) and
                   tuple(w.mutations[0].end_pos) <= end for start, end in spans)
        ]
        if inside:
            db.set_multiple_results(inside, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                       output=ANNOTATION))


def _keep_sample(session: Path, size: int, offset: int = 0) -> None:
    """Mark all but `size` evenly spread mutants as skipped (cosmic-ray then leaves them);
    `offset` shifts every pick by that many places (another sample, disjoint when it is
    smaller than the spacing)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        skipped = {job_id for job_id, _ in db.results}  # the annotation mutants
        items = sorted((w for w in db.work_items if w.job_id not in skipped),
                       key=lambda w: (str(w.mutations[0].module_path),
                                      w.mutations[0].start_pos,
                                      w.mutations[0].operator_name,
                                      w.mutations[0].occurrence))
        if size >= len(items):
            return
        keep = {items[(i * len(items) // size + offset) % len(items)].job_id
                for i in range(size)}
        skip = [w.job_id for w in items if w.job_id not in keep]
        db.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                 output="not in the sample"))


def _tally(session: Path, show_survivors: bool, name: str) -> Tally:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    tally = Tally()
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        skipped = done = 0
        items = {w.job_id: w for w in db.work_items}
        for job_id, result in db.results:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
                if result.output == ANNOTATION:
                    tally.annotations += 1
                continue
            done += 1
            if result.test_outcome == TestOutcome.KILLED:
                tally.killed += 1
                if (result.output or "").strip() == "timeout":
                    tally.timeout += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                tally.survived += 1
                if show_survivors:
                    spec = items[job_id].mutations[0]
                    print(f"# survivor {name} {spec.operator_name} line {spec.start_pos[0]}",
                          file=sys.stderr)
                    print(result.diff or "", file=sys.stderr)
            else:
                tally.incompetent += 1
        tally.mutants = total - skipped
        tally.pending = tally.mutants - done
        sampled = skipped - tally.annotations
        tally.sampled_of = total - tally.annotations if sampled else 0
    return tally


def run_target(target: Target, work: Path, fresh: bool, show_survivors: bool,
               sample: int | None, offset: int = 0) -> Tally:
    """Mutate one module (continuing an earlier session unless `fresh`)."""
    copy = work / "src"
    session = work / f"{target.name}.sqlite"
    config = work / f"{target.name}.toml"
    if fresh and session.exists():
        session.unlink()
    _copy_project(copy)
    took = _baseline(target, copy)
    # Generous: a loaded 2-core machine can be three times slower than the baseline run.
    _config(target, copy, max(30.0, took * 4 + 10), config)
    env = _env(copy)
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    if not session.exists():
        subprocess.run([*cosmic, "init", str(config), str(session)], cwd=copy, env=env,
                       check=True)
        _skip_annotations(session, copy / target.path)
        if sample:
            _keep_sample(session, sample, offset)
    subprocess.run([*cosmic, "exec", str(config), str(session)], cwd=copy, env=env, check=True)
    return _tally(session, show_survivors, target.name)


def _print(name: str, tally: Tally) -> None:
    print(f"{name}.mutants: {tally.mutants}")
    print(f"{name}.killed: {tally.killed}")
    print(f"{name}.survived: {tally.survived}")
    print(f"{name}.timeout: {tally.timeout}")
    print(f"{name}.incompetent: {tally.incompetent}")
    if tally.pending:
        print(f"{name}.pending: {tally.pending}")
    if tally.sampled_of:
        print(f"{name}.sampled_of: {tally.sampled_of}")
    print(f"{name}.annotations_left_out: {tally.annotations}")
    print(f"{name}.score: {tally.score:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen modules and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/mutation.py --module echonet.frame --show-survivors",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SAMPLE} mutants of one small module ({QUICK}); for CI")
    parser.add_argument("--module", action="append", choices=[t.name for t in TARGETS],
                        help="a module to mutate (repeatable; default: all)")
    parser.add_argument("--work", type=Path, default=ROOT / ".mutation",
                        help="where the copy and the sessions live (default .mutation/)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier sessions")
    parser.add_argument("--sample", type=int, default=None,
                        help="run only this many mutants per module, spread evenly (new sessions)")
    parser.add_argument("--sample-offset", type=int, default=0,
                        help="shift each sampled pick by this many mutants (another sample)")
    parser.add_argument("--show-survivors", action="store_true",
                        help="print each surviving mutant's diff to stderr")
    parser.add_argument("--min-score", type=float, default=None,
                        help="exit 1 when the overall score is below this")
    args = parser.parse_args(argv)
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        print("cosmic-ray is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    names = [QUICK] if args.quick else (args.module or [t.name for t in TARGETS])
    chosen = [t for t in TARGETS if t.name in names]
    args.work.mkdir(parents=True, exist_ok=True)
    overall = Tally()
    start = time.monotonic()
    for target in chosen:
        sample = QUICK_SAMPLE if args.quick else args.sample
        tally = run_target(target, args.work, args.fresh or args.quick, args.show_survivors,
                           sample, 0 if args.quick else args.sample_offset)
        _print(target.name, tally)
        overall.add(tally)
    _print("overall", overall)
    print(f"mutation_wall_s: {time.monotonic() - start:.1f}")
    if args.min_score is not None and overall.score < args.min_score:
        print(f"overall score {overall.score:.3f} is below {args.min_score}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
