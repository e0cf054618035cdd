"""No bench can rot: every bench/*.py has a --quick mode, and .ci/run runs each in it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py"))


def test_ci_runs_every_bench_quickly() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    in_ci = set(re.findall(r'^"\$PY" bench/(\w+\.py) --quick$', ci, re.MULTILINE))
    assert BENCHES, "no benches found"
    assert set(BENCHES) - in_ci == set(), "add these to .ci/run's bench step with --quick"


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_offers_quick_in_its_help(bench: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / bench), "--help"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--quick" in done.stdout


def test_mutation_runs_find_the_test_data_from_their_scratch_copy(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    # bench/mutation.py runs the tests in a copy under --work, where ../shared/testdata is not:
    # without HOMEHUB_TESTDATA every module's baseline stopped on "test data is not there".
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "bench" / "mutation.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutation_bench", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)
    monkeypatch.delenv("HOMEHUB_TESTDATA", raising=False)
    env = bench._env(tmp_path / "work" / "src")
    assert env["HOMEHUB_REQUIRE_TESTDATA"] == "1"
    assert Path(env["HOMEHUB_TESTDATA"]) == ROOT.parent / "shared" / "testdata"
    monkeypatch.setenv("HOMEHUB_TESTDATA", str(tmp_path / "elsewhere"))
    assert bench._env(tmp_path / "src")["HOMEHUB_TESTDATA"] == str(tmp_path / "elsewhere")
