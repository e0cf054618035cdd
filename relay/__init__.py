"""The homehub relay: hubs dial out to it; phones and voice assistants reach them through it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relay.config import RelayConfig
    from relay.server import RelayServer

__all__ = ["RelayConfig", "RelayServer"]


def __getattr__(name: str) -> Any:
    # Lazy: the hub imports relay.protocol and relay.webapp (shared code), and importing a
    # submodule runs this file first; eager imports here loaded the whole relay server into
    # every hub (push, accounts, store, websockets: ~10 MB of a small board's memory).
    if name == "RelayConfig":
        from relay.config import RelayConfig

        return RelayConfig
    if name == "RelayServer":
        from relay.server import RelayServer

        return RelayServer
    raise AttributeError(f"module 'relay' has no attribute {name!r}")
