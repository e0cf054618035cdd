"""The voice package's public surface, and that it never pulls in the hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import relay.voice

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_exact() -> None:
    assert sorted(relay.voice.__all__) == relay.voice.__all__
    for name in relay.voice.__all__:
        assert getattr(relay.voice, name) is not None
    public = {n for n in vars(relay.voice) if not n.startswith("_")}
    modules = {"alexa", "backend", "backend_relay", "change_reports", "devices", "dispatch",
               "errors", "google", "oauth", "reporting", "service", "alexa_directives",
               "alexa_lambda"}
    assert public - modules == set(relay.voice.__all__)


def test_relay_voice_imports_without_the_hub() -> None:
    # A relay deployment may not even ship the hub package: block it and import everything.
    code = (
        "import sys; sys.modules['hub'] = None\n"
        "import relay.voice, relay.voice.service, relay.voice.reporting\n"
        "loaded = [m for m in sys.modules if sys.modules[m] and m.split('.')[0] == 'hub']\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
