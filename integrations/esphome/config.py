"""Settings of one ESPHome device, as in the `esphome.devices` config list."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.errors import IntegrationError

DEFAULT_PORT = 6053


def _check_psk(psk: str) -> None:
    try:
        raw = binascii.a2b_base64(psk)
    except binascii.Error as err:
        raise IntegrationError(
            "noise_psk must be the device's api encryption key: 32 bytes in base64"
        ) from err
    if len(raw) != 32:
        raise IntegrationError(
            f"noise_psk must be 32 bytes in base64 (the `api: encryption: key:` of the "
            f"device's YAML); this one is {len(raw)} bytes"
        )


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """Where a device is and how to log in. `name`, when set, must match the node's name."""

    host: str
    port: int = DEFAULT_PORT
    name: str | None = None
    noise_psk: str | None = None
    password: str | None = None
    mac: str | None = None  # lower-case hex without separators, as mDNS TXT carries it

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DeviceConfig:
        """Validate one config entry; IntegrationError says what to fix."""
        host = data.get("host")
        if not isinstance(host, str) or not host:
            raise IntegrationError(f"an esphome device needs a host; got {dict(data)!r}")
        port = data.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise IntegrationError(f"esphome device {host}: port must be 1-65535, got {port!r}")
        psk = data.get("noise_psk") or None
        if psk is not None:
            if not isinstance(psk, str):
                raise IntegrationError(f"esphome device {host}: noise_psk must be a string")
            _check_psk(psk)
        mac = data.get("mac") or None
        return cls(
            host=host,
            port=port,
            name=data.get("name") or None,
            noise_psk=psk,
            password=data.get("password") or None,
            mac=mac.replace(":", "").lower() if isinstance(mac, str) else None,
        )

    def public_dict(self) -> dict[str, Any]:
        """The config entry without its key and password (what a device description keeps)."""
        out = self.to_dict()
        out.pop("noise_psk", None)
        out.pop("password", None)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The config entry form (what `from_mapping` reads)."""
        out: dict[str, Any] = {"host": self.host, "port": self.port}
        for key in ("name", "noise_psk", "password", "mac"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        return out
