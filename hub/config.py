"""Hub configuration: defaults, then a TOML file, then environment variables, then CLI flags.

The file is `<data_dir>/homehub.toml` unless `--config` names another. Example::

    [hub]
    name = "Our flat"
    [api]
    host = "0.0.0.0"
    port = 8470
    [location]            # for sunrise/sunset rules, and phones' home/away by position
    latitude = 35.68
    longitude = 139.69
    timezone = "Asia/Tokyo"
    home_radius_m = 150   # a phone within this distance of the location counts as home
    [relay]
    url = "wss://relay.example.org"
    [integrations.echonet]
    hosts = ["192.168.1.40"]   # static addresses where multicast is blocked
    [backup]
    interval_hours = 24   # scheduled backups (0: none)
    keep = 7              # scheduled archives kept in <data_dir>/backups
    offsite = true        # also upload, encrypted, to the relay (once a recovery key is set)

Environment: HOMEHUB_DATA_DIR, HOMEHUB_CONFIG, HOMEHUB_NAME, HOMEHUB_API_HOST, HOMEHUB_API_PORT,
HOMEHUB_RELAY_URL, HOMEHUB_LOG_LEVEL, HOMEHUB_ADVERTISE (0/1), HOMEHUB_METRICS_TOKEN (turns on
GET /metrics for 'Authorization: Bearer <token>'; or [api] metrics_token).
"""

from __future__ import annotations

import difflib
import os
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

DEFAULT_PORT = 8470
CONFIG_FILE_NAME = "homehub.toml"
#: A phone's position is good to tens of metres indoors; 150 m holds a house and its street
#: parking without calling the neighbours' flat "home".
DEFAULT_HOME_RADIUS_M = 150.0


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
    home_radius_m: float = DEFAULT_HOME_RADIUS_M
    max_body_bytes: int = 256 * 1024
    # Slow or half-open clients: seconds to send the request head, then the body; connections
    # at once (0: from the open-file limit, with headroom for the database and devices).
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 0
    # Bearer token of GET /metrics (Prometheus text); None: metrics are off (404).
    metrics_token: str | None = None
    history_raw_days: float = 7.0
    history_rollup_days: float = 365.0
    history_bucket_s: int = 300
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    config_file: Path | None = None  # the file read, if any (backups include it)
    backup_interval_h: float = 24.0
    backup_keep: int = 7
    backup_offsite: bool = True
    backup_dir: Path | None = None

    @property
    def backups_path(self) -> Path:
        """Where archives are kept (`[backup] dir`, default `<data_dir>/backups`)."""
        return self.backup_dir or self.data_dir / "backups"

    @property
    def db_path(self) -> Path:
        """The hub's SQLite database."""
        return self.data_dir / "homehub.db"

    def with_overrides(self, **changes: Any) -> HubConfig:
        """A copy with some fields changed (CLI flags, tests)."""
        return replace(self, **changes)


#: Every key the config file may hold, with its type: a typo is an error, not a silent default.
_SCHEMA: dict[str, dict[str, type]] = {
    "hub": {"name": str, "log_level": str},
    "api": {
        "host": str,
        "port": int,
        "advertise": bool,
        "header_timeout_s": float,
        "body_timeout_s": float,
        "max_connections": int,
        "metrics_token": str,
    },
    "relay": {"url": str},
    "location": {"latitude": float, "longitude": float, "timezone": str, "home_radius_m": float},
    "history": {"raw_days": float, "rollup_days": float},
    "backup": {"interval_hours": float, "keep": int, "offsite": bool, "dir": str},
}
#: Integrations the config can enable by section name: [integrations.<name>] -> module:class.
KNOWN_INTEGRATIONS = {
    "virtual": "integrations.virtual.integration:VirtualIntegration",
    "echonet": "integrations.echonet.integration:EchonetIntegration",
    "broadlink": "integrations.broadlink.integration:BroadlinkIntegration",
    "esphome": "integrations.esphome.integration:EsphomeIntegration",
    "mqtt": "integrations.mqtt.integration:MqttIntegration",
    "broute": "integrations.broute.integration:BrouteIntegration",
    "nature_remo": "integrations.nature_remo.integration:NatureRemoIntegration",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean "x"?` for the closest known word, or nothing."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _unknown(
    kind: str, name: str, where: str, known: Iterable[str], shown: str = ""
) -> ConfigError:
    known = sorted(known)
    return ConfigError(
        f"unknown {kind} {shown or name} {where}{did_you_mean(name, known)} "
        f"(known: {', '.join(known)})"
    )


def _check_names(doc: Mapping[str, Any], source: Path) -> None:
    for name, value in doc.items():
        if name not in _SCHEMA and name != "integrations":
            raise _unknown(
                "section", name, f"in {source}", [*_SCHEMA, "integrations"], shown=f"[{name}]"
            )
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] in the config file must be a table")
        if name == "integrations":
            for integ, section in value.items():
                if integ not in KNOWN_INTEGRATIONS:
                    raise _unknown(
                        "integration",
                        integ,
                        f"in {source}",
                        KNOWN_INTEGRATIONS,
                        shown=f"[integrations.{integ}]",
                    )
                if not isinstance(section, Mapping):
                    raise ConfigError(f"[integrations.{integ}] must be a table")
            continue
        for key in value:
            if key not in _SCHEMA[name]:
                raise _unknown("key", key, f"in [{name}] of {source}", _SCHEMA[name], f'"{key}"')


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{name}] in the config file must be a table")
    return value


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be a {_TYPE_WORDS[kind]}, got {value!r}")
    return value


_TYPE_WORDS = {str: "string", int: "whole number", float: "number", bool: "true or false"}


def _in_range(value: float | None, low: float, high: float, where: str) -> None:
    if value is not None and not low <= value <= high:
        raise ConfigError(f"{where} must be between {low:g} and {high:g}, got {value:g}")


def check_timezone(name: str, where: str = "location.timezone") -> None:
    """Raise ConfigError unless `name` is an IANA time zone this machine knows."""
    try:
        zoneinfo.ZoneInfo(name)
        return
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    zones = zoneinfo.available_timezones()
    if not zones:
        raise ConfigError(
            f"{where} = {name!r}: this machine has no time zone database; install tzdata "
            "(e.g. apt install tzdata, or pip install tzdata)"
        )
    raise ConfigError(
        f"{where} = {name!r} is not a time zone{did_you_mean(name, zones)} "
        '(use an IANA name such as "Europe/Berlin" or "Asia/Tokyo")'
    )


def _check(cfg: HubConfig) -> HubConfig:
    """Ranges and names that a type check alone lets through."""
    _in_range(cfg.latitude, -90, 90, "location.latitude")
    _in_range(cfg.longitude, -180, 180, "location.longitude")
    if (cfg.latitude is None) != (cfg.longitude is None):
        raise ConfigError("set both location.latitude and location.longitude, or neither")
    check_timezone(cfg.timezone)
    # Under 20 m a phone's fix wanders in and out while it lies on the table; over 50 km is a
    # region, not a home.
    _in_range(cfg.home_radius_m, 20, 50_000, "location.home_radius_m")
    _in_range(cfg.api_port, 0, 65535, "api.port (or HOMEHUB_API_PORT)")
    if cfg.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"hub.log_level (or HOMEHUB_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)}, "
            f"got {cfg.log_level!r}"
        )
    _in_range(cfg.header_timeout_s, 0.1, 3600, "api.header_timeout_s")
    _in_range(cfg.body_timeout_s, 0.1, 3600, "api.body_timeout_s")
    _in_range(cfg.max_connections, 0, 10_000_000, "api.max_connections")
    for key in ("history_raw_days", "history_rollup_days"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key.replace('_', '.', 1)} must be more than 0 days")
    return cfg


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
    if config_file.is_file():
        try:
            doc = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config_file}: {err}; fix the TOML syntax") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read the config file {config_file}: {err}") from err
    elif config_file.exists():
        raise ConfigError(f"config file {config_file} is not a file")
    elif "HOMEHUB_CONFIG" in env or (config_file and config_file.name != CONFIG_FILE_NAME):
        raise ConfigError(f"config file {config_file} does not exist")
    _check_names(doc, config_file)

    hub, api, relay, loc = (_section(doc, n) for n in ("hub", "api", "relay", "location"))
    history = _section(doc, "history")
    backup = _section(doc, "backup")
    integrations = _section(doc, "integrations")
    cfg = HubConfig(
        data_dir=data_dir,
        name=_typed(hub.get("name", "homehub"), str, "hub.name"),
        api_host=_typed(api.get("host", "0.0.0.0"), str, "api.host"),
        api_port=_typed(api.get("port", DEFAULT_PORT), int, "api.port"),
        advertise=_typed(api.get("advertise", True), bool, "api.advertise"),
        header_timeout_s=_typed(api.get("header_timeout_s", 10.0), float, "api.header_timeout_s"),
        body_timeout_s=_typed(api.get("body_timeout_s", 30.0), float, "api.body_timeout_s"),
        max_connections=_typed(api.get("max_connections", 0), int, "api.max_connections"),
        metrics_token=(
            _typed(api["metrics_token"], str, "api.metrics_token") or None
            if "metrics_token" in api
            else None
        ),
        relay_url=_typed(relay["url"], str, "relay.url") if "url" in relay else None,
        log_level=_typed(hub.get("log_level", "INFO"), str, "hub.log_level").upper(),
        latitude=_typed(loc["latitude"], float, "location.latitude") if "latitude" in loc else None,
        longitude=(
            _typed(loc["longitude"], float, "location.longitude") if "longitude" in loc else None
        ),
        timezone=_typed(loc.get("timezone", "UTC"), str, "location.timezone"),
        home_radius_m=_typed(
            loc.get("home_radius_m", DEFAULT_HOME_RADIUS_M), float, "location.home_radius_m"
        ),
        history_raw_days=_typed(history.get("raw_days", 7.0), float, "history.raw_days"),
        history_rollup_days=_typed(history.get("rollup_days", 365.0), float, "history.rollup_days"),
        integrations={k: dict(v) for k, v in integrations.items()},
        config_file=config_file if config_file.exists() else None,
        backup_interval_h=_typed(
            backup.get("interval_hours", 24.0), float, "backup.interval_hours"
        ),
        backup_keep=_typed(backup.get("keep", 7), int, "backup.keep"),
        backup_offsite=_typed(backup.get("offsite", True), bool, "backup.offsite"),
        backup_dir=Path(_typed(backup["dir"], str, "backup.dir")).expanduser()
        if "dir" in backup
        else None,
    )
    if cfg.backup_interval_h < 0 or cfg.backup_keep < 1:
        raise ConfigError(
            "[backup] interval_hours must be 0 (no schedule) or more, and keep at least 1"
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
    if "HOMEHUB_METRICS_TOKEN" in env:
        changes["metrics_token"] = env["HOMEHUB_METRICS_TOKEN"] or None
    if "HOMEHUB_ADVERTISE" in env:
        changes["advertise"] = env["HOMEHUB_ADVERTISE"] not in ("0", "false", "no", "")
    return _check(cfg.with_overrides(**changes) if changes else cfg)
