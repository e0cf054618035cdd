"""Pairing with the one-time code, the token file, and the `homehub tui` command line."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest
from textual.widgets import Input, Static
from tui_testkit import wait_for

from hub.testing import RunningHub
from tui import HubClient
from tui.app import HomehubApp
from tui.cli import register, resolve
from tui.client import LinkState
from tui.config import TokenStore, config_dir
from tui.screens.connect import PairScreen


async def test_pair_with_code_saves_token(hub: RunningHub, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "cfg" / "homehub" / "tui.json")
    code = await hub.hub.auth.create_pairing_code()
    client = HubClient(hub.url)
    app = HomehubApp(client, store=store, client_name="test console")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: isinstance(app.screen, PairScreen), "the pairing screen")
        field = app.screen.query_one("#code", Input)
        field.value = "WRONG-0"
        await pilot.press("enter")
        error = app.screen.query_one("#pair-error", Static)
        await wait_for(lambda: "try again" in str(error.content), "the wrong-code message")

        field.value = code
        await pilot.press("enter")
        await wait_for(lambda: client.state is LinkState.CONNECTED, "connected after pairing")
        await wait_for(lambda: "virtual-lamp" in app.devices, "the devices after pairing")

    assert client.token
    saved = json.loads(store.path.read_text())
    health = (await hub.client.get("/api/v1/health")).json()
    assert saved["hubs"][health["hub_id"]]["token"] == client.token
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.token_for("http://elsewhere:1", health["hub_id"]) == client.token
    tokens = (await hub.client.get("/api/v1/tokens")).json()["tokens"]
    assert "test console" in [t["name"] for t in tokens]


async def test_revoked_token_asks_to_pair_again(hub: RunningHub) -> None:
    app = HomehubApp(HubClient(hub.url, "not-a-token"))
    async with app.run_test(size=(80, 24)):
        await wait_for(lambda: isinstance(app.screen, PairScreen), "the pairing screen")
        assert "refused the token" in app.link[1]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="homehub")
    register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_flags_env_and_saved_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(tmp_path / "tui.json")
    store.save("http://127.0.0.9:8470", "saved-token", "hub_1")
    monkeypatch.delenv("HOMEHUB_TOKEN", raising=False)

    args = parse(["tui", "--url", "http://127.0.0.9:8470/"])
    assert callable(args.func)
    assert resolve(args, store) == ("http://127.0.0.9:8470", "saved-token")

    monkeypatch.setenv("HOMEHUB_TOKEN", "env-token")
    assert resolve(args, store) == ("http://127.0.0.9:8470", "env-token")

    args = parse(["tui", "--url", "http://127.0.0.9:8470", "--token", "flag-token"])
    assert resolve(args, store) == ("http://127.0.0.9:8470", "flag-token")

    assert resolve(parse(["tui"]), store) == (None, "env-token")


def test_config_dir_follows_xdg(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "homehub"
    assert config_dir({}).name == "homehub"


def test_token_file_survives_garbage(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tui.json")
    store.path.write_text("{not json")
    assert store.token_for("http://x") is None
    store.save("http://x", "t")
    assert store.token_for("http://x/") == "t"
    assert store.last_url() == "http://x"
