"""[integrations.broute] and the secrets file: every mistake gets a message saying what to do."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from broute_testkit import PASSWORD, RBID, write_secrets

from hub.testing import running_hub
from integrations.broute import credentials as creds
from integrations.broute.integration import BrouteConfig, BrouteIntegration
from integrations.errors import IntegrationError


def test_secrets_in_homehub_toml_are_refused() -> None:
    for key in ("id", "password"):
        with pytest.raises(IntegrationError, match="must not hold") as err:
            BrouteConfig.from_mapping({"port": "/dev/ttyUSB0", key: "x"})
        assert "secrets file" in str(err.value)


def test_config_values() -> None:
    cfg = BrouteConfig.from_mapping({"port": "/dev/ttyUSB0", "poll_interval_s": 10})
    assert (cfg.port, cfg.poll_interval_s, cfg.timezone) == ("/dev/ttyUSB0", 10.0, "Asia/Tokyo")
    with pytest.raises(IntegrationError, match="needs port"):
        BrouteConfig.from_mapping({})
    with pytest.raises(IntegrationError, match="timezone"):
        BrouteConfig.from_mapping({"port": "/dev/x", "timezone": "Mars/Olympus"})
    with pytest.raises(IntegrationError, match="positive"):
        BrouteConfig.from_mapping({"port": "/dev/x", "poll_interval_s": 0})
    with pytest.raises(IntegrationError, match="bad value"):
        BrouteConfig.from_mapping({"port": "/dev/x", "retries": "many"})


def test_secrets_file_checks(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    with pytest.raises(creds.CredentialsError, match="install -m 600"):
        creds.load(path)
    write_secrets(path)
    assert creds.load(path).secrets() == (RBID, PASSWORD)
    assert RBID not in repr(creds.load(path)) and PASSWORD not in repr(creds.load(path))
    os.chmod(path, 0o644)
    with pytest.raises(creds.CredentialsError, match=f"chmod 600 {path}"):
        creds.load(path)
    os.chmod(path, 0o600)
    path.write_text('id = "SHORT"\npassword = "0123456789AB"\n')
    with pytest.raises(creds.CredentialsError, match="32 letters") as err:
        creds.load(path)
    assert "0123456789AB" not in str(err.value)
    path.write_text(f'id = "{RBID}"\n')
    with pytest.raises(creds.CredentialsError, match="needs password"):
        creds.load(path)
    path.write_text("id = \n")
    with pytest.raises(creds.CredentialsError, match="not valid TOML"):
        creds.load(path)


async def test_a_bad_setup_is_logged_and_the_hub_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    config = {"integrations": {"broute": {"port": "/dev/ttyUSB9", "password": PASSWORD}}}
    async with running_hub(tmp_path, [BrouteIntegration()], config) as rh:
        await rh.hub.wait_integrations()
        assert (await rh.client.get("/api/v1/health")).status_code == 200
    assert "must not hold password" in caplog.text
    assert PASSWORD not in caplog.text.replace("must not hold password", "")
