"""Skips are counted, named by what is missing, and fail when that part is required.

A test may skip because something outside the project is absent: the independent test data in
../shared/testdata, a browser, PostgreSQL, a tool such as haproxy. On a user's own checkout that
is fine, but it must never look like a pass: the run ends with one line per missing part saying
how many tests it skipped. Where the part is required (CI sets `HOMEHUB_REQUIRE_<PART>=1`, or
`HOMEHUB_REQUIRE=part,part` / `all`), the skip becomes a failure that says what to install.

Parts are recognised by an explicit `needs <part>:` prefix (see `need()`), by the test's folder
(everything under tests/phone/ needs the browser), or by words in the skip reason that the
suites already use. A skip that fits no part is still counted and listed as "other".
Our own modules are never skipped on: an import error in the project must fail (see
`test_skip_policy.py`, which also keeps `pytest.importorskip` of project modules out).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The independent test data (vendor schemas, captured frames, IR vectors): beside the checkout,
#: or wherever HOMEHUB_TESTDATA points.
TESTDATA = Path(os.environ.get("HOMEHUB_TESTDATA") or ROOT.parent / "shared" / "testdata")


@dataclass(frozen=True)
class Part:
    """Something a test may need that the project does not ship."""

    name: str
    what: str  # what is missing, in words
    fix: str  # what a person does about it
    words: str = ""  # regular expression matched against existing skip reasons
    folders: tuple[str, ...] = ()  # test folders (relative to tests/) that need it throughout


PARTS: tuple[Part, ...] = (
    Part("testdata", "the independent test data (../shared/testdata)",
         f"put it at {TESTDATA} or point HOMEHUB_TESTDATA at it",
         r"shared/testdata|testdata not found"),
    Part("browser", "a browser for the phone app tests (Playwright + Chromium)",
         "apt-get install chromium; pip install -e .[dev]",
         r"chromium|playwright|browser", ("phone",)),
    Part("postgres", "a PostgreSQL server", "start PostgreSQL or set HOMEHUB_TEST_PG",
         r"postgres"),
    Part("redis", "Redis", "apt-get install redis-server", r"\bredis"),
    Part("haproxy", "HAProxy", "apt-get install haproxy", r"haproxy"),
    Part("mosquitto", "the Mosquitto MQTT broker", "apt-get install mosquitto",
         r"mosquitto|mqtt broker"),
    Part("docker-compose", "docker-compose", "apt-get install docker-compose",
         r"docker-compose"),
    Part("netns", "a network namespace (root, unshare and ip)",
         "run as root with util-linux and iproute2", r"network namespace|unshare|\bip\b tool"),
    Part("git", "a git checkout", "run from a git clone", r"git checkout"),
    Part("dev-deps", "a test dependency from pyproject's [dev] extra",
         "pip install -e .[dev]", r"could not import|is not installed \(pip"),
)
OTHER = Part("other", "something else", "read the skip reasons (pytest -rs)")
_BY_NAME = {p.name: p for p in PARTS}
_TAG = re.compile(r"needs ([a-z][a-z-]*): ")


def required() -> set[str]:
    """Parts this run must have, from HOMEHUB_REQUIRE and HOMEHUB_REQUIRE_<PART>."""
    listed = {w.strip() for w in os.environ.get("HOMEHUB_REQUIRE", "").split(",") if w.strip()}
    if "all" in listed:
        return set(_BY_NAME)
    unknown = listed - set(_BY_NAME)
    if unknown:
        raise pytest.UsageError(
            f"HOMEHUB_REQUIRE names unknown parts {sorted(unknown)}; known: {sorted(_BY_NAME)}")
    for name in _BY_NAME:
        if os.environ.get(f"HOMEHUB_REQUIRE_{name.upper().replace('-', '_')}", "") not in ("", "0"):
            listed.add(name)
    return listed


def need(part: str, reason: str) -> NoReturn:
    """Skip this test because `part` is missing (a failure where the part is required)."""
    if part not in _BY_NAME:
        raise ValueError(f"unknown part {part!r}; known: {sorted(_BY_NAME)}")
    pytest.skip(f"needs {part}: {reason}")


def skip_mark(part: str, reason: str) -> pytest.MarkDecorator:
    """A skip marker for parameters that cannot exist without `part` (same policy as need())."""
    if part not in _BY_NAME:
        raise ValueError(f"unknown part {part!r}; known: {sorted(_BY_NAME)}")
    return pytest.mark.skip(reason=f"needs {part}: {reason}")


def shared_data(*parts: str) -> Path:
    """A path inside the shared test data; skips (or fails where required) when it is absent."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        need("testdata", f"{path} not found")
    return path


_unchecked: Counter[str] = Counter()


def unchecked(part: str, what: str) -> None:
    """Record that a check was left out of a test that still runs (a failure where required).

    For checks that wrap other tests, such as the Alexa schema validator: without the data the
    tests run unchecked, which must show in the summary rather than pass as if checked."""
    if part in required():
        pytest.fail(f"{what}: {_BY_NAME[part].what} is required here ({_BY_NAME[part].fix})",
                    pytrace=False)
    _unchecked[f"{part}: {what}"] += 1


def classify(reason: str, nodeid: str) -> Part:
    """Which part a skip is for."""
    tagged = _TAG.search(reason)
    if tagged and tagged.group(1) in _BY_NAME:
        return _BY_NAME[tagged.group(1)]
    folders = set(nodeid.split("::")[0].split("/")[:-1])
    for part in PARTS:
        if folders & set(part.folders):
            return part
    for part in PARTS:
        if part.words and re.search(part.words, reason, re.IGNORECASE):
            return part
    return OTHER


def _reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipPolicy:
    """Counts skips by part and turns skips of required parts into failures."""

    def __init__(self, must_have: set[str]) -> None:
        self.must_have = must_have
        self.skipped: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.reasons: dict[str, set[str]] = {}

    def _judge(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = _reason(report)
        part = classify(reason, report.nodeid)
        self.reasons.setdefault(part.name, set()).add(reason)
        if part.name in self.must_have:
            self.failed[part.name] += 1
            report.outcome = "failed"
            report.longrepr = (f"skipped, but {part.what} is required in this run "
                               f"(HOMEHUB_REQUIRE): {reason}\nFix: {part.fix}")
        else:
            self.skipped[part.name] += 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        self._judge(outcome.get_result())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        outcome = yield
        self._judge(outcome.get_result())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.skipped or self.failed or _unchecked):
            return
        write = terminalreporter.write_line
        terminalreporter.section("skips by missing part")
        for name, count in sorted(self.skipped.items()):
            part = _BY_NAME.get(name, OTHER)
            if name != OTHER.name:
                more = (" A test parametrised over the data counts once here, so more cases"
                        " were left out." if name == "testdata" else "")
                write(f"SKIPPED {count} test(s): {part.what} missing; {part.fix}.{more} "
                      f"(HOMEHUB_REQUIRE_{name.upper().replace('-', '_')}=1 makes this fail)")
            else:
                write(f"SKIPPED {count} test(s) for other reasons:")
                for reason in sorted(self.reasons.get(name, ()))[:10]:
                    write(f"    other skip: {reason}")
        for name, count in sorted(self.failed.items()):
            write(f"FAILED {count} test(s) that would have skipped: {_BY_NAME[name].what} "
                  f"is required in this run; {_BY_NAME[name].fix}.")
        for what, count in sorted(_unchecked.items()):
            write(f"UNCHECKED in {count} test(s): {what} (the data is missing)")


def pytest_configure(config: pytest.Config) -> None:
    """Fail at once when required test data is absent (not after the whole suite)."""
    must_have = required()
    if "testdata" in must_have and not TESTDATA.is_dir():
        raise pytest.UsageError(
            f"HOMEHUB_REQUIRE asks for the independent test data, but {TESTDATA} is not there; "
            f"{_BY_NAME['testdata'].fix}")
    config.pluginmanager.register(SkipPolicy(must_have), "homehub-skip-policy")
