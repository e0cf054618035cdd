"""Where the TUI keeps its tokens: $XDG_CONFIG_HOME/homehub/tui.json, readable only by you."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TOKEN_ENV = "HOMEHUB_TOKEN"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/homehub, or ~/.config/homehub."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "homehub"


class TokenStore:
    """Tokens by hub (its id when known, else its URL), plus the last hub used."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "tui.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"hubs": {}}
        if not isinstance(data, dict) or not isinstance(data.get("hubs"), dict):
            return {"hubs": {}}
        return data

    def token_for(self, url: str, hub_id: str = "") -> str | None:
        """The saved token of a hub, by id first (its address may change), then by URL."""
        hubs = self._read()["hubs"]
        url = url.rstrip("/")
        entries = [hubs.get(hub_id)] if hub_id else []
        entries += [
            hubs.get(url),
            *(e for e in hubs.values() if isinstance(e, dict) and e.get("url") == url),
        ]
        for entry in entries:
            if isinstance(entry, dict) and entry.get("token"):
                return str(entry["token"])
        return None

    def last_url(self) -> str | None:
        """The hub used last time."""
        url = self._read().get("last_url")
        return str(url) if url else None

    def save(self, url: str, token: str, hub_id: str = "") -> None:
        """Remember a token; the file is created with mode 0600 (it is a password)."""
        data = self._read()
        entry = {"token": token, "url": url.rstrip("/")}
        data["hubs"][hub_id or url.rstrip("/")] = entry
        data["last_url"] = url.rstrip("/")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)  # an existing tmp file may have had looser bits
        os.replace(tmp, self.path)
