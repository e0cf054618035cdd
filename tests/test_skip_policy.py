"""The skip policy: skips are counted by what is missing, and fail where that part is required.

Each case runs pytest in a subprocess on a small suite in a temporary folder (with the real
skip_policy), or on a real suite of ours with the test data pointed away, and reads its exit
code and summary. Also: no test skips on an import of our own packages.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
OWN_PACKAGES = ("hub", "relay", "tui", "integrations", "ir_codes")

SUITE = {
    "conftest.py": "from skip_policy import pytest_configure\n",
    "test_data.py": (
        "import pytest\n"
        "from skip_policy import need, skip_mark\n"
        "def test_needs_data():\n"
        "    need('testdata', 'vectors.json not found')\n"
        "@pytest.mark.parametrize('case', [pytest.param(None, marks=skip_mark('testdata', 'x'))])\n"
        "def test_cases(case):\n"
        "    pass\n"
        "def test_passes():\n"
        "    assert True\n"
    ),
    "phone/test_browser.py": (
        "import pytest\n"
        "def test_page():\n"
        "    pytest.skip('no chromium here')\n"
    ),
    "test_tools.py": (
        "import pytest\n"
        "def test_proxy():\n"
        "    pytest.skip('haproxy is not installed (apt-get install haproxy)')\n"
        "def test_weird():\n"
        "    pytest.skip('the moon is in the wrong phase')\n"
        "@pytest.mark.xfail(reason='known bug')\n"
        "def test_known_bug():\n"
        "    raise AssertionError\n"
    ),
}


def _run(tmp_path: Path, files: dict[str, str], *, env: dict[str, str] | None = None,
         args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / "tests"
    for name, text in files.items():
        (suite / name).parent.mkdir(parents=True, exist_ok=True)
        (suite / name).write_text(text)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOMEHUB_REQUIRE")}
    clean.update(env or {})
    clean["PYTHONPATH"] = str(TESTS)
    clean["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a plain pytest starts in a fraction of the time
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path), *args, str(suite)],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120, check=False)


def test_without_requirements_skips_are_counted_by_part(tmp_path: Path) -> None:
    out = _run(tmp_path, SUITE, env={"HOMEHUB_TESTDATA": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "skips by missing part" in text
    assert "SKIPPED 2 test(s): the independent test data (../shared/testdata) missing" in text
    assert "SKIPPED 1 test(s): a browser for the phone app tests" in text
    assert "SKIPPED 1 test(s): HAProxy missing" in text
    assert "SKIPPED 1 test(s) for other reasons:" in text
    assert "other skip: the moon is in the wrong phase" in text
    assert "1 passed, 5 skipped, 1 xfailed" in text  # an xfail is not a skip


@pytest.mark.parametrize(("env", "failed"), [
    ({"HOMEHUB_REQUIRE_TESTDATA": "1"}, ["test_data.py::test_needs_data",
                                         "test_data.py::test_cases[None]"]),
    ({"HOMEHUB_REQUIRE_BROWSER": "1"}, ["phone/test_browser.py::test_page"]),
    ({"HOMEHUB_REQUIRE": "haproxy,redis"}, ["test_tools.py::test_proxy"]),
    ({"HOMEHUB_REQUIRE": "all"}, ["test_data.py::test_needs_data", "test_data.py::test_cases",
                                  "phone/test_browser.py::test_page",
                                  "test_tools.py::test_proxy"]),
])
def test_a_required_part_fails_instead_of_skipping(
    tmp_path: Path, env: dict[str, str], failed: list[str]
) -> None:
    out = _run(tmp_path, SUITE, env={"HOMEHUB_TESTDATA": str(tmp_path), **env}, args=("-rfE",))
    assert out.returncode == 1, out.stdout + out.stderr
    # A skip in the call becomes a failure; one in setup (a skip marker) becomes an error.
    failures = [line for line in out.stdout.splitlines()
                if line.startswith(("FAILED tests/", "ERROR tests/"))]
    assert len(failures) == len(failed), out.stdout
    for name in failed:
        assert any(name in line for line in failures), (name, out.stdout)
    assert "is required in this run" in out.stdout
    assert "test_weird" not in "".join(failures)  # "all" means every known part, not any skip


def test_required_test_data_that_is_absent_stops_the_run_at_once(tmp_path: Path) -> None:
    out = _run(tmp_path, SUITE, env={"HOMEHUB_TESTDATA": str(tmp_path / "nowhere"),
                                     "HOMEHUB_REQUIRE_TESTDATA": "1"})
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage error
    assert f"{tmp_path / 'nowhere'} is not there" in out.stderr
    assert "passed" not in out.stdout


def test_an_unknown_required_part_is_a_usage_error(tmp_path: Path) -> None:
    out = _run(tmp_path, SUITE, env={"HOMEHUB_REQUIRE": "testdata,chromium"})
    assert out.returncode == 4
    assert "unknown parts ['chromium']" in out.stderr


def test_a_module_that_skips_while_collecting_fails_when_required(tmp_path: Path) -> None:
    files = {"conftest.py": SUITE["conftest.py"],
             "test_mod.py": "import pytest\npytest.importorskip('no_such_module_here')\n"
                            "def test_x():\n    pass\n",
             "test_ok.py": "def test_ok():\n    pass\n"}
    assert _run(tmp_path, files).returncode == 0
    out = _run(tmp_path, files, env={"HOMEHUB_REQUIRE": "dev-deps"})
    assert out.returncode != 0, out.stdout
    assert "is required in this run" in out.stdout


def _without_testdata(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEHUB_REQUIRE")}
    env["HOMEHUB_TESTDATA"] = str(tmp_path / "no-testdata")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if require:
        env["HOMEHUB_REQUIRE_TESTDATA"] = "1"
    suites = [str(TESTS / "ir_codes" / "test_ir_vectors.py"),
              str(TESTS / "relay_voice" / "test_alexa_samples.py")]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "asyncio",
         "-p", "hypothesis", *suites],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_our_suites_without_the_test_data_say_so(tmp_path: Path) -> None:
    out = _without_testdata(tmp_path, require=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "test(s): the independent test data (../shared/testdata) missing" in out.stdout
    assert "UNCHECKED in" in out.stdout  # the Alexa validator did not silently switch off
    out = _without_testdata(tmp_path, require=True)
    assert out.returncode == 4
    assert "no-testdata is not there" in out.stderr


def _skips_on_own_module(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip" and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).split(".")[0] in OWN_PACKAGES):
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.args[0].value}")
    return found


def test_no_test_skips_on_an_import_of_our_own_packages() -> None:
    offenders = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _skips_on_own_module(path)]
    assert offenders == [], "a broken import of our own code must fail, not skip"


def test_the_own_module_check_can_see_one(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\ntesting = pytest.importorskip('hub.testing')\n"
                     "other = pytest.importorskip('pychonet')\n")
    assert _skips_on_own_module(probe, tmp_path) == ["test_probe.py:2 hub.testing"]
