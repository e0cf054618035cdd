"""What an IR device integration keeps across restarts: learned codes and the assumed IR state.

One JSON file, replaced atomically::

    {"commands": {"living-tv": {"netflix": "2600...0d05"}},
     "assumed": {"bedroom-ac": {"power": true, "mode": "heat", "target_temperature": 23}}}
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.errors import IntegrationError


@dataclass
class IrStore:
    """Learned codes and assumed state; `path=None` keeps them in memory only."""

    path: Path | None = None
    commands: dict[str, dict[str, str]] = field(default_factory=dict)  # device -> name -> hex
    assumed: dict[str, dict[str, Any]] = field(default_factory=dict)  # device -> property -> value
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    async def load(cls, path: Path | None) -> IrStore:
        """Read the file (in a worker thread); a missing file is an empty store."""
        store = cls(path)
        if path is not None:
            data = await asyncio.to_thread(_read, path)
            store.commands = {
                str(dev): {str(name): str(code) for name, code in cmds.items()}
                for dev, cmds in data.get("commands", {}).items()
            }
            store.assumed = {str(dev): dict(v) for dev, v in data.get("assumed", {}).items()}
        return store

    async def save(self) -> None:
        """Write the file (in a worker thread), one writer at a time."""
        if self.path is None:
            return
        text = json.dumps({"commands": self.commands, "assumed": self.assumed}, indent=2,
                          sort_keys=True)
        async with self._lock:
            await asyncio.to_thread(_write, self.path, text)


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        return data
    except (OSError, ValueError) as err:
        raise IntegrationError(
            f"IR store {path} is unreadable ({err}); fix it or move it away"
        ) from err


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)  # atomic: a crash leaves the old or the new file, never half of one
