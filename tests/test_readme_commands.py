"""README's commands work as written, in a fresh copy of the repository, as a new user runs them.

The copy holds exactly the files git tracks (what `git clone` gives, with this checkout's
edits), so its first `python3 run.py ...` makes a new .venv and installs homehub there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import re
import select
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mdns_netns import multicast_netns

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 900  # the first run installs every dependency: minutes on a slow machine


def sh_block(section_title: str) -> list[str]:
    """The commands of the first sh block under a README heading; a heredoc is one command."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {section_title}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, f"README's '{section_title}' section needs a sh code block"
    commands: list[str] = []
    lines = iter(block.group(1).splitlines())
    for line in lines:
        heredoc = re.search(r"<<'(\w+)'", line)
        if heredoc:
            body = [line]
            for more in lines:
                body.append(more)
                if more == heredoc[1]:
                    break
            commands.append("\n".join(body))
        elif line.strip():
            commands.append(line.split(" #")[0].strip())
    return commands


def test_readme_has_exactly_the_two_commands() -> None:
    assert sh_block("Try it: two commands") == ["python3 run.py demo", "python3 run.py test"]


def test_quickstart_uses_commands_a_fresh_checkout_has() -> None:
    commands = sh_block("Quickstart for a real home")
    assert [c.split("\n")[0] for c in commands] == [
        "python3 run.py homehub --help",
        "mkdir -p ~/.local/share/homehub",
        "cat > ~/.local/share/homehub/homehub.toml <<'TOML'",
        "python3 run.py homehub hub",
        "python3 run.py homehub pair",
        "python3 run.py homehub tui",
    ]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of this checkout, copied to a new folder (no .venv, no caches)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"README tests copy the git checkout, and this is not one: {err}")
    dest = tmp_path_factory.mktemp("clone") / "homehub"
    for name in filter(None, listed.decode().split("\0")):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the work tree is not in a clone
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def new_user_env(home: Path) -> dict[str, str]:
    """The environment of a user who has never run homehub: own HOME, no venv, no overrides."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOMEHUB_", "XDG_", "PYTEST")) and k != "VIRTUAL_ENV"}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_both_commands_work_in_a_fresh_clone(fresh_clone: Path, tmp_path: Path) -> None:
    env = new_user_env(tmp_path / "home")
    demo = subprocess.Popen(
        ["bash", "-c", "python3 run.py demo --json --duration 30"], cwd=fresh_clone, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert demo.stdout is not None
        first = demo.stdout.readline()  # installs first: this can take a few minutes
        assert first, demo.stderr.read() if demo.stderr else "demo printed nothing"
        info = json.loads(first)
        devices = httpx.get(f"{info['hub_url']}/api/v1/devices", timeout=10,
                            headers={"Authorization": f"Bearer {info['token']}"}).json()
        assert len(devices["devices"]) >= 5
    finally:
        demo.terminate()
        demo.wait(60)
    test = subprocess.run(
        ["bash", "-c", "python3 run.py test -q -p no:cacheprovider tests/hub/test_hub_shadow.py"],
        cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    assert re.search(r"\d+ passed", test.stdout)


class _Lines:
    """A process's output lines, read in a thread so the test can wait with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [self._queue.put(line) for line in stdout],
                         daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)[-3000:]}")


@contextlib.contextmanager
def _group(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """Stop a command and what run.py started for it (its own process group) on exit."""
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


_ESCAPES = re.compile(
    r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(\x07|\x1b\\)"  # OSC: window title
    r"|\x1b[()][A-Z0-9]|\x1b."
)


def _screen_text(raw: bytes) -> str:
    """What a terminal showed, as letters only (escape sequences and spacing removed)."""
    return re.sub(r"\s+", "", _ESCAPES.sub("", raw.decode("utf-8", "replace")))


def _pump(master: int, raw: bytearray, seconds: float) -> None:
    """Read what the TUI draws for a while (a full terminal would stall it)."""
    ready, _, _ = select.select([master], [], [], seconds)
    if ready:
        with contextlib.suppress(OSError):
            raw += os.read(master, 65536)


def _read_pty(master: int, raw: bytearray, until: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while until not in _screen_text(bytes(raw)):
        left = deadline - time.monotonic()
        assert left > 0, f"the TUI never showed {until!r}:\n{_screen_text(bytes(raw))[-2000:]}"
        _pump(master, raw, min(left, 0.5))


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_quickstart_runs_as_written_in_a_fresh_clone(fresh_clone: Path, tmp_path: Path) -> None:
    """Every quickstart command, in order, on a network of its own (the hub's port 8470 and
    its LAN probes stay off this machine's network): install, write the config, start the hub,
    get a pairing code, and pair the TUI with it over mDNS."""
    help_cmd, mkdir, write_config, hub_cmd, pair_cmd, tui_cmd = sh_block(
        "Quickstart for a real home"
    )
    env = new_user_env(tmp_path / "home")

    def run(command: str, inside: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*inside, "bash", "-c", command], cwd=fresh_clone, env=env,
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT)

    # Installing needs the real network; the rest runs in a namespace with only loopback.
    first = run(help_cmd, [])
    assert first.returncode == 0, first.stderr[-3000:]
    assert "usage: homehub" in first.stdout
    # pip shows setuptools' deprecation warnings (e.g. a table-style project.license).
    assert "project.license" not in first.stderr, first.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in first.stderr, first.stderr[-3000:]
    for command in (mkdir, write_config):
        done = run(command, [])
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "home/.local/share/homehub/homehub.toml").is_file()

    with multicast_netns("hh-readme") as netns:
        inside = ["ip", "netns", "exec", netns] if netns else []
        hub = subprocess.Popen([*inside, "bash", "-c", hub_cmd], cwd=fresh_clone, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        with _group(hub):
            lines = _Lines(hub)
            lines.wait_for(r"Pairing code \(10 min, once\): \S+", 120)
            serving = lines.wait_for(r"homehub is serving (http://\S+):8470/api/v1", 60)
            pair = run(pair_cmd, inside)
            assert pair.returncode == 0, pair.stderr
            code = re.search(r"Pairing code: (\S+)", pair.stdout)
            assert code, pair.stdout

            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            tui = subprocess.Popen([*inside, "bash", "-c", tui_cmd], cwd=fresh_clone,
                                   env={**env, "TERM": "xterm-256color"}, stdin=slave,
                                   stdout=slave, stderr=slave, start_new_session=True)
            os.close(slave)
            with _group(tui):
                screen = bytearray()
                # One hub answers over mDNS, so the TUI goes straight to pairing with it.
                _read_pty(master, screen, f"Pairwiththehubat{serving[1]}:8470", 60)
                os.write(master, code[1].encode() + b"\r")
                deadline = time.monotonic() + 60
                while True:
                    tokens = run("python3 run.py homehub token list", inside).stdout
                    if "active   homehub tui" in tokens:
                        break
                    assert time.monotonic() < deadline, f"the TUI did not pair: {tokens}"
                    _pump(master, screen, 0.5)
                _read_pty(master, screen, "Ourflat", 30)  # the dashboard, under the hub's name
            os.close(master)
