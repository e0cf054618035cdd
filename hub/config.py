"""Hub configuration: defaults, then a TOML file, then environment variables, then CLI flags.

The file is `<data_dir>/homehub.toml` unless `--config` names another. Example::

    [hub]
    name = "Our flat"
    [api]
    host = "0.0.0.0"
    port = 8470
    [location]            # for sunrise/sunset rules
    latitude = 35.68
    longitude = 139.69
    timezone = "Asia/Tokyo"
    [relay]
    url = "wss://relay.example.org"
    [integrations.echonet]
    hosts = ["192.168.1.40"]   # static addresses where multicast is blocked

Environment: HOMEHUB_DATA_DIR, HOMEHUB_CONFIG, HOMEHUB_NAME, HOMEHUB_API_HOST, HOMEHUB_API_PORT,
HOMEHUB_RELAY_URL, HOMEHUB_LOG_LEVEL, HOMEHUB_ADVERTISE (0/1).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

DEFAULT_PORT = 8470
CONFIG_FILE_NAME = "homehub.toml"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/homehub` or `~/.local/share/homehub`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "homehub"


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub reads at start-up."""

    data_dir: Path
    name: str = "homehub"
    api_host: str = "0.0.0.0"
    api_port: int = DEFAULT_PORT
    advertise: bool = True
    relay_url: str | None = None
    log_level: str = "INFO"
    latitude: float | None = None
    longitude: float | None = None
    timezone: str = "UTC"
    max_body_bytes: int = 256 * 1024
    history_raw_days: float = 7.0
    history_rollup_days: float = 365.0
    history_bucket_s: int = 300
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        """The hub's SQLite database."""
        return self.data_dir / "homehub.db"

    def with_overrides(self, **changes: Any) -> HubConfig:
        """A copy with some fields changed (CLI flags, tests)."""
        return replace(self, **changes)


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] in the config file must be a table")
    return value


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be a {kind.__name__}, got {value!r}")
    return value


def load_config(
    data_dir: Path | None = None,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> HubConfig:
    """Build the configuration from file and environment; raise ConfigError naming what is wrong."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("HOMEHUB_DATA_DIR") or data_dir or default_data_dir()).expanduser()
    config_file = Path(config_file or env.get("HOMEHUB_CONFIG") or data_dir / CONFIG_FILE_NAME)
    doc: Mapping[str, Any] = {}
    if config_file.exists():
        try:
            doc = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config_file}: {err}; fix the TOML syntax") from err
    elif "HOMEHUB_CONFIG" in env or (config_file and config_file.name != CONFIG_FILE_NAME):
        raise ConfigError(f"config file {config_file} does not exist")

    hub, api, relay, loc = (_section(doc, n) for n in ("hub", "api", "relay", "location"))
    history = _section(doc, "history")
    integrations = _section(doc, "integrations")
    for name, section in integrations.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"[integrations.{name}] must be a table")
    cfg = HubConfig(
        data_dir=data_dir,
        name=_typed(hub.get("name", "homehub"), str, "hub.name"),
        api_host=_typed(api.get("host", "0.0.0.0"), str, "api.host"),
        api_port=_typed(api.get("port", DEFAULT_PORT), int, "api.port"),
        advertise=_typed(api.get("advertise", True), bool, "api.advertise"),
        relay_url=relay.get("url"),
        log_level=_typed(hub.get("log_level", "INFO"), str, "hub.log_level").upper(),
        latitude=_typed(loc["latitude"], float, "location.latitude") if "latitude" in loc else None,
        longitude=(
            _typed(loc["longitude"], float, "location.longitude") if "longitude" in loc else None
        ),
        timezone=_typed(loc.get("timezone", "UTC"), str, "location.timezone"),
        history_raw_days=_typed(history.get("raw_days", 7.0), float, "history.raw_days"),
        history_rollup_days=_typed(history.get("rollup_days", 365.0), float, "history.rollup_days"),
        integrations={k: dict(v) for k, v in integrations.items()},
    )
    changes: dict[str, Any] = {}
    if "HOMEHUB_NAME" in env:
        changes["name"] = env["HOMEHUB_NAME"]
    if "HOMEHUB_API_HOST" in env:
        changes["api_host"] = env["HOMEHUB_API_HOST"]
    if "HOMEHUB_API_PORT" in env:
        try:
            changes["api_port"] = int(env["HOMEHUB_API_PORT"])
        except ValueError:
            raise ConfigError(
                f"HOMEHUB_API_PORT must be a port number, got {env['HOMEHUB_API_PORT']!r}"
            ) from None
    if "HOMEHUB_RELAY_URL" in env:
        changes["relay_url"] = env["HOMEHUB_RELAY_URL"] or None
    if "HOMEHUB_LOG_LEVEL" in env:
        changes["log_level"] = env["HOMEHUB_LOG_LEVEL"].upper()
    if "HOMEHUB_ADVERTISE" in env:
        changes["advertise"] = env["HOMEHUB_ADVERTISE"] not in ("0", "false", "no", "")
    return cfg.with_overrides(**changes) if changes else cfg
