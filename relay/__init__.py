"""The homehub relay: hubs dial out to it; phones and voice assistants reach them through it."""

from relay.config import RelayConfig
from relay.server import RelayServer

__all__ = ["RelayConfig", "RelayServer"]
