"""The `homehub` CLI and configuration loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.cli.main import build_parser, main
from hub.config import DEFAULT_PORT, load_config
from hub.errors import ConfigError

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("hub", "demo", "pair", "token", "sim", "ir", "relay", "relay-code", "tui"):
        assert f"\n    {command}" in out, f"'homehub {command}' missing from --help"


def test_every_sim_kind_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    out = capsys.readouterr().out
    for kind in ("echonet", "broadlink", "esphome"):
        assert kind in out


def test_core_commands_parse_without_plugins() -> None:
    args = build_parser(plugins=False).parse_args(["hub", "--port", "9000", "--no-mdns"])
    assert args.port == 9000
    assert args.no_mdns is True


def test_pair_token_list_and_revoke(tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        out = subprocess.run(
            [*HOMEHUB, *argv, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "Pairing code:" in run("pair")
    token_id = run("token", "create", "kitchen tablet").split()[0]
    assert token_id.startswith("tok_")
    assert f"{token_id}  active" in run("token", "list")
    run("token", "revoke", token_id)
    assert f"{token_id}  revoked" in run("token", "list")
    bad = subprocess.run(
        [*HOMEHUB, "token", "revoke", "tok_nope", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "no token 'tok_nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_demo_json_first_line_then_a_working_hub() -> None:
    proc = subprocess.Popen(
        [*HOMEHUB, "demo", "--json", "--duration", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert {"hub_url", "token", "emulators"} <= set(info)
        assert {"echonet", "broadlink", "esphome"} <= set(info["emulators"])
        r = httpx.get(
            f"{info['hub_url']}/api/v1/devices",
            headers={"Authorization": f"Bearer {info['token']}"},
            timeout=10,
        )
        assert r.status_code == 200
        assert r.json()["devices"], "the demo hub has devices"
        # ... and it is linked to the demo relay, where the demo account sees it online.
        phone = httpx.get(f"{info['relay_url']}/v1/hubs/{info['relay_hub_id']}",
                          headers={"Authorization": f"Bearer {info['relay_token']}"}, timeout=10)
        assert phone.status_code == 200
        assert phone.json()["online"] is True
    finally:
        proc.terminate()
        proc.wait(30)


def test_config_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "homehub.toml").write_text(
        '[hub]\nname = "Flat"\n[api]\nport = 9001\n[location]\nlatitude = 35\n'
        'longitude = 139.7\n[integrations.echonet]\nhosts = ["192.0.2.1"]\n'
    )
    cfg = load_config(tmp_path, env={})
    assert (cfg.name, cfg.api_port, cfg.latitude) == ("Flat", 9001, 35.0)
    assert cfg.integrations["echonet"]["hosts"] == ["192.0.2.1"]
    cfg = load_config(tmp_path, env={"HOMEHUB_API_PORT": "9002", "HOMEHUB_NAME": "Env"})
    assert (cfg.name, cfg.api_port) == ("Env", 9002)
    assert load_config(tmp_path / "empty", env={}).api_port == DEFAULT_PORT


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [
        ("[api]\nport = 'eighty'\n", {}, "api.port must be a int"),
        ("[hub\n", {}, "fix the TOML syntax"),
        ("", {"HOMEHUB_API_PORT": "x"}, "HOMEHUB_API_PORT must be a port number"),
        ("integrations = 3\n", {}, "[integrations] in the config file must be a table"),
    ],
)
def test_config_errors_name_the_problem(
    tmp_path: Path, text: str, env: dict[str, str], fragment: str
) -> None:
    (tmp_path / "homehub.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env=env)
    assert fragment in err.value.message
