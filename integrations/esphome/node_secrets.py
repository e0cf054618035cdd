"""Noise keys and passwords of adopted nodes, in a file only the hub's user can read (0600).

A node adopted through the API brings its `api: encryption: key:`; the hub must keep it to
reconnect after a restart, but never in the device description, which the API, the TUI and
the relay's shadows all show. The file maps device id -> {"noise_psk", "password"}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from integrations.errors import IntegrationError

FILE_NAME = "node_secrets.json"
SECRET_KEYS = ("noise_psk", "password")


class NodeSecrets:
    """Read once at setup; every change is written at once, atomically, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, str]] = {}

    def load(self) -> None:
        """Read the file (a missing file is an empty one)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            raise IntegrationError(
                f"cannot read the ESPHome keys in {self.path} ({err}); restore it from a backup "
                "or remove it and adopt the encrypted nodes again"
            ) from err
        if isinstance(data, dict):
            self._entries = {
                str(k): {s: str(v[s]) for s in SECRET_KEYS if isinstance(v, dict) and v.get(s)}
                for k, v in data.items()
            }

    def get(self, device_id: str) -> dict[str, str]:
        """The secrets kept for a device (empty when none)."""
        return dict(self._entries.get(device_id, {}))

    def put(self, device_id: str, values: dict[str, str | None]) -> None:
        """Keep (or, with nothing set, forget) a device's secrets."""
        kept = {k: v for k, v in values.items() if k in SECRET_KEYS and v}
        if kept == self._entries.get(device_id, {}):
            return
        if kept:
            self._entries[device_id] = kept
        else:
            self._entries.pop(device_id, None)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._entries, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)  # also when an older file was left with wider rights
        os.replace(tmp, self.path)
