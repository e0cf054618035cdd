"""`[integrations.nature_remo]`, checked: a typo is an error naming the key it resembles."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.errors import IntegrationError
from integrations.ir_devices import IrDeviceConfig, parse_device_config
from integrations.nature_remo.client import DEFAULT_PORT

DOMAIN = "nature_remo"
KEYS = ("hosts", "adopt", "timeout", "retries", "poll_interval", "store_path", "profile_dirs",
        "devices")


@dataclass(frozen=True, slots=True)
class RemoAddress:
    """Where a Remo is; `name` is its mDNS instance (``Remo-1ABCDE``) when known."""

    host: str
    port: int = DEFAULT_PORT
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """The integration's config section."""

    hosts: tuple[RemoAddress, ...] = ()
    adopt: str = "ask"
    timeout: float = 5.0
    retries: int = 4
    poll_interval: float = 60.0
    store_path: Path | None = None
    profile_dirs: tuple[Path, ...] = ()
    devices: tuple[IrDeviceConfig, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Parse the section; IntegrationError names the bad key and what it should be."""
        where = f"[integrations.{DOMAIN}]"
        for key in config:
            if key not in KEYS:
                close = difflib.get_close_matches(str(key), KEYS, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                raise IntegrationError(
                    f'unknown key "{key}" in {where}{hint} (known: {", ".join(sorted(KEYS))})'
                )
        try:
            adopt = str(config.get("adopt", "ask"))
            if adopt not in ("ask", "auto"):
                raise ValueError(f'adopt must be "ask" or "auto", not {adopt!r}')
            timeout = _positive(config.get("timeout", 5.0), "timeout")
            poll = _positive(config.get("poll_interval", 60.0), "poll_interval")
            retries = config.get("retries", 4)
            if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
                raise ValueError(f"retries must be a whole number from 0 to 10, not {retries!r}")
            store = config.get("store_path")
            return cls(
                hosts=tuple(parse_address(h) for h in config.get("hosts", ()) or ()),
                adopt=adopt,
                timeout=timeout,
                retries=retries,
                poll_interval=poll,
                store_path=Path(store) if store else None,
                profile_dirs=tuple(Path(d) for d in config.get("profile_dirs", ()) or ()),
                devices=tuple(
                    parse_device_config(d, DOMAIN) for d in config.get("devices", ()) or ()
                ),
            )
        except (TypeError, ValueError, KeyError) as err:
            raise IntegrationError(f"{where} is not valid: {err}") from err


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{key} must be a number of seconds above 0, not {value!r}")
    return float(value)


def parse_address(entry: Any) -> RemoAddress:
    """`"192.168.1.50"`, `"192.168.1.50:8080"` or `{host = ..., port = ..., name = ...}`."""
    if isinstance(entry, Mapping):
        host, port, name = entry.get("host"), entry.get("port", DEFAULT_PORT), entry.get("name")
    else:
        host, _, port_text = str(entry).partition(":")
        port, name = (int(port_text) if port_text else DEFAULT_PORT), None
    if not isinstance(host, str) or not host:
        raise ValueError(f"a Remo in hosts needs a host (an IP address or name), got {entry!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"the port of Remo {host} must be 1-65535, got {port!r}")
    return RemoAddress(host, port, str(name) if name else None)
