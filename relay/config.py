"""Relay settings: one frozen value, built by the CLI or a test."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from relay.protocol import MAX_FRAME_BYTES


@dataclass(frozen=True)
class RelayConfig:
    """Everything a relay node reads at start-up."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8480
    allow_signup: bool = False  # accounts via `homehub relay account create` unless enabled
    heartbeat_s: float = 20.0  # a hub silent for 3 heartbeats is considered gone
    request_timeout_s: float = 10.0
    max_in_flight: int = 32
    max_frame_bytes: int = MAX_FRAME_BYTES
    account_rate: float = 20.0  # requests per second per account (sustained)
    account_burst: float = 60.0
    login_rate: float = 0.2  # log-ins (per address) and claims (per account) per second
    login_burst: float = 10.0
    admit_rate: float = 2000.0  # new tunnels per second this node accepts
    admit_burst: float = 500.0
    max_handshakes: int = 256  # tunnels authenticating at once; more are told to come back
    max_tunnels: int = 0  # 0: as many as the open-file limit allows, minus a margin
    drain_spread_s: float = 10.0  # hubs told to reconnect spread over this many seconds
    queue_ttl_s: float = 3600.0  # default life of a desired write queued for an offline hub
    max_queue_per_hub: int = 200
    claim_code_ttl_s: float = 600.0
    session_ttl_s: float = 30 * 86400.0
    shadow_flush_s: float = 0.5

    @property
    def db_path(self) -> Path:
        """The relay's SQLite database."""
        return self.data_dir / "relay.db"

    def with_overrides(self, **changes: Any) -> RelayConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)
