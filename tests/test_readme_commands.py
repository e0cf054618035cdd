"""README's two commands work from a fresh virtual environment, as a new user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it: two commands", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README's 'Try it' section needs a sh code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_the_two_commands() -> None:
    assert readme_commands() == ["python3 run.py demo", "python3 run.py test"]


@pytest.mark.slow
def test_both_commands_work_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    env = dict(os.environ, HOMEHUB_VENV=str(tmp_path / "venv"))
    env.pop("VIRTUAL_ENV", None)
    python = sys.executable if sys.version_info >= (3, 11) else "python3"
    demo = subprocess.Popen(
        [python, "run.py", "demo", "--json", "--duration", "30"], cwd=ROOT, env=env,
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
        [python, "run.py", "test", "-q", "-p", "no:cacheprovider", "tests/hub/test_hub_shadow.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    assert re.search(r"\d+ passed", test.stdout)
