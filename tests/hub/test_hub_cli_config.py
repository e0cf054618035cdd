"""The `homehub` CLI and configuration loading."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import ifaddr
import pytest

from hub.cli.main import build_parser, main
from hub.config import DEFAULT_PORT, load_config
from hub.errors import ConfigError
from hub.store import Database

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


def homehub(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `homehub` command as a user would."""
    return subprocess.run(
        [*HOMEHUB, *argv], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def make_hub_data(data_dir: Path) -> None:
    """The database a hub's first start leaves in its data folder."""

    async def create() -> None:
        db = Database(data_dir / "homehub.db")
        await db.open()
        await db.close()

    asyncio.run(create())


def test_pair_token_list_and_revoke(tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        out = homehub(*argv, "--data-dir", str(tmp_path))
        assert out.returncode == 0, out.stderr
        return out.stdout

    make_hub_data(tmp_path)
    assert "Pairing code:" in run("pair")
    token_id = run("token", "create", "kitchen tablet").split()[0]
    assert token_id.startswith("tok_")
    assert f"{token_id}  active" in run("token", "list")
    run("token", "revoke", token_id)
    assert f"{token_id}  revoked" in run("token", "list")
    bad = homehub("token", "revoke", "tok_nope", "--data-dir", str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr == "homehub: no token 'tok_nope'; 'homehub token list' shows the ids\n"


@pytest.mark.parametrize("argv", [["pair"], ["token", "create", "me"], ["token", "list"]])
def test_pair_and_tokens_refuse_a_folder_where_no_hub_lives(
    tmp_path: Path, argv: list[str]
) -> None:
    typo = tmp_path / "homehbu"
    out = homehub(*argv, "--data-dir", str(typo))
    assert out.returncode == 2, out.stdout
    assert out.stderr.startswith(f"homehub: no hub keeps its data in {typo} ")
    assert f"'homehub hub --data-dir {typo}'" in out.stderr
    assert "Traceback" not in out.stderr
    assert not typo.exists(), "a mistyped folder must not get a fresh, useless database"


def test_a_data_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    afile = tmp_path / "homehub"
    afile.write_text("not a folder")
    out = homehub("hub", "--data-dir", str(afile), "--port", "0", "--no-mdns")
    assert out.returncode == 2
    assert out.stderr == (
        f"homehub: the data folder {afile} is a file, not a folder; move the file away or "
        "choose another one with --data-dir (or HOMEHUB_DATA_DIR)\n"
    )
    out = homehub("hub", "--data-dir", str(afile / "inside"), "--port", "0", "--no-mdns")
    assert out.returncode == 2
    assert out.stderr.startswith(f"homehub: cannot create the data folder {afile / 'inside'}: ")


def _read_only_hub(folder: Path) -> subprocess.CompletedProcess[str]:
    """`homehub hub` on a folder this user cannot write (root writes anywhere but read-only
    mounts, so as root the folder becomes a read-only tmpfs in a private mount namespace)."""
    argv = [*HOMEHUB, "hub", "--data-dir", str(folder), "--port", "0", "--no-mdns"]
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if shutil.which("unshare") is None:
        pytest.skip("as root this test needs unshare (util-linux) for a read-only mount")
    script = 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"'
    out = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(folder), *argv],
                         capture_output=True, text=True, timeout=60)
    if "mount" in out.stderr and "homehub" not in out.stderr:
        pytest.skip(f"cannot mount a read-only folder here: {out.stderr.strip()}")
    return out


def test_a_data_folder_that_is_not_writable_says_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    try:
        out = _read_only_hub(folder)
    finally:
        folder.chmod(0o700)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"homehub: the data folder {folder} is not writable (")
    assert "give this user write access to it (chown/chmod) or choose another one" in out.stderr
    assert "Traceback" not in out.stderr and "OperationalError" not in out.stderr


def test_hub_prints_the_address_a_phone_would_use(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*HOMEHUB, "hub", "--data-dir", str(tmp_path), "--port", "0", "--no-mdns"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        serving = next((line for line in lines if "is serving" in line), "")
        found = re.search(r"serving http://([\d.]+):(\d+)/api/v1", serving)
        assert found, lines
        host = found[1]
        # Independent of the hub's own lookup: the machine's non-loopback IPv4 addresses.
        lan = [str(ip.ip) for a in ifaddr.get_adapters() for ip in a.ips
               if ip.is_IPv4 and not str(ip.ip).startswith("127.")]
        if lan:
            assert host in lan, (serving, lan)
            assert f"on this machine also http://127.0.0.1:{found[2]}" in lines[2]
        else:
            assert host == "127.0.0.1"
        health = httpx.get(f"http://{host}:{found[2]}/api/v1/health", timeout=10)
        assert health.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(30)


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
        # The phone app, both ways a person can open it at once: from the relay (the demo
        # account) and from the hub on the LAN (the printed pairing code, exchanged once).
        assert info["phone_url"] == info["relay_url"] + "/"
        assert info["lan_url"] == info["hub_url"] + "/"
        for url in (info["phone_url"], info["lan_url"]):
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200, url
            assert page.headers["content-type"].startswith("text/html"), url
            assert '<div id="app">' in page.text
        signed_in = httpx.post(f"{info['relay_url']}/v1/sessions", timeout=10, json={
            "email": info["relay_email"], "password": info["relay_password"]})
        assert signed_in.status_code == 201, signed_in.text
        paired = httpx.post(f"{info['hub_url']}/api/v1/pair", timeout=10, json={
            "code": info["pairing_code"], "client_name": "test phone"})
        assert paired.status_code in (200, 201), paired.text
        again = httpx.post(f"{info['hub_url']}/api/v1/pair", timeout=10, json={
            "code": info["pairing_code"], "client_name": "test phone"})
        assert again.status_code in (401, 403), again.text
    finally:
        proc.terminate()
        proc.wait(30)
    story = proc.stderr.read() if proc.stderr else ""
    assert f"  phone: {info['phone_url']}  (the phone app through the relay: sign in as " in story
    assert f"{info['relay_email']} / {info['relay_password']})" in story
    assert f"  LAN:   {info['lan_url']}  (the same app from the hub: pairing code " in story
    assert info["pairing_code"] in story


def test_config_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "homehub.toml").write_text(
        '[hub]\nname = "Flat"\n[api]\nport = 9001\n[location]\nlatitude = 35\n'
        'longitude = 139.7\n[integrations.echonet]\nhosts = ["192.0.2.1"]\n'
    )
    cfg = load_config(tmp_path, env={})
    assert (cfg.name, cfg.api_port, cfg.latitude) == ("Flat", 9001, 35.0)
    assert cfg.home_radius_m == 150.0  # the default
    assert cfg.integrations["echonet"]["hosts"] == ["192.0.2.1"]
    cfg = load_config(tmp_path, env={"HOMEHUB_API_PORT": "9002", "HOMEHUB_NAME": "Env"})
    assert (cfg.name, cfg.api_port) == ("Env", 9002)
    assert load_config(tmp_path / "empty", env={}).api_port == DEFAULT_PORT


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [
        ("[api]\nport = 'eighty'\n", {}, "api.port must be a whole number, got 'eighty'"),
        ("[hub\n", {}, "fix the TOML syntax"),
        ("", {"HOMEHUB_API_PORT": "x"}, "HOMEHUB_API_PORT must be a port number"),
        ("integrations = 3\n", {}, "[integrations] in the config file must be a table"),
        ('[hub]\nnmae = "Flat"\n', {}, 'unknown key "nmae" in [hub] of '),
        ('[hub]\nnmae = "Flat"\n', {}, 'did you mean "name"? (known: log_level, name)'),
        ('[hubb]\nname = "Flat"\n', {}, 'unknown section [hubb] in '),
        ('[hubb]\nname = "Flat"\n', {}, 'did you mean "hub"?'),
        ("[integrations.echonett]\n", {}, 'did you mean "echonet"?'),
        ("[api]\nprot = 1\n", {}, 'did you mean "port"? (known: advertise, body_timeout_s, '
         'header_timeout_s, host, max_connections, metrics_token, port)'),
        ('[location]\ntimezone = "Mars/Olympus"\n', {},
         "location.timezone = 'Mars/Olympus' is not a time zone (use an IANA name"),
        ('[location]\ntimezone = "Asia/Tokio"\n', {}, 'did you mean "Asia/Tokyo"?'),
        ("[location]\nlatitude = 135.0\nlongitude = 139.7\n", {},
         "location.latitude must be between -90 and 90, got 135"),
        ("[location]\nlatitude = 35.0\nlongitude = 200\n", {},
         "location.longitude must be between -180 and 180, got 200"),
        ("[location]\nlatitude = 35.0\n", {}, "set both location.latitude and location.longitude"),
        ("[location]\nhome_radius_m = 5\n", {},
         "location.home_radius_m must be between 20 and 50000, got 5"),
        ("[location]\nhome_radius_m = '150 m'\n", {},
         "location.home_radius_m must be a number, got '150 m'"),
        ("[location]\nhome_raduis_m = 150\n", {}, 'did you mean "home_radius_m"?'),
        ("[api]\nport = 70000\n", {}, "api.port (or HOMEHUB_API_PORT) must be between 0 and 65535"),
        ("", {"HOMEHUB_LOG_LEVEL": "loud"}, "must be one of DEBUG, INFO, WARNING, ERROR"),
        ("[history]\nraw_days = 0\n", {}, "history.raw_days must be more than 0 days"),
    ],
)
def test_config_errors_name_the_problem(
    tmp_path: Path, text: str, env: dict[str, str], fragment: str
) -> None:
    (tmp_path / "homehub.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env=env)
    assert fragment in err.value.message


def test_a_bad_config_stops_the_hub_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "homehub.toml").write_text('[location]\ntimezone = "Mars/Olympus"\n')
    out = homehub("hub", "--data-dir", str(tmp_path), "--port", "0", "--no-mdns")
    assert out.returncode == 2
    assert out.stderr.startswith("homehub: location.timezone = 'Mars/Olympus' is not a time zone")
    assert out.stderr.count("\n") == 1
    assert not (tmp_path / "homehub.db").exists(), "checked before anything starts"


def test_the_readme_config_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    toml = re.search(r"<<'TOML'\n(.*?)\nTOML\n", readme, re.DOTALL)
    assert toml, "README's quickstart writes homehub.toml with a <<'TOML' block"
    (tmp_path / "homehub.toml").write_text(toml[1])
    cfg = load_config(tmp_path, env={})
    assert (cfg.timezone, cfg.latitude) == ("Asia/Tokyo", 35.68)


def _command_tree(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("homehub",)
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, bool]]:
    """(path, parser, is_leaf) for every command and subcommand."""
    children = [
        (name, child)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, child in action.choices.items()
    ]
    out = [(path, parser, not children)]
    for name, child in children:
        out += _command_tree(child, (*path, name))
    return out


def test_every_command_has_a_description_and_an_example_that_parses() -> None:
    parser = build_parser()
    tree = _command_tree(parser)
    assert len(tree) > 20, "plugins missing from the command tree"
    for path, sub, leaf in tree[1:]:
        command = " ".join(path)
        assert sub.description, f"'{command} --help' has no description"
        examples = [
            line.split("#")[0].strip()
            for line in (sub.epilog or "").splitlines()
            if line.strip().startswith(command) or f" {command} " in line
        ]
        if not leaf:
            continue
        assert examples, f"'{command} --help' shows no example"
        for example in examples:
            argv = shlex.split(example[example.index(command) :])[1:]
            args = parser.parse_args(argv)  # an example that does not parse exits here
            assert args.func is not None, example
        help_text = sub.format_help()
        assert "example" in help_text and examples[0] in help_text, help_text


def test_sim_broadlink_needs_no_bind() -> None:
    args = build_parser().parse_args(["sim", "broadlink"])
    assert (args.bind, args.port) == ("127.0.0.1", 80)
