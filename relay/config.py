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
    max_handshakes: int = 256  # signed-in tunnels being attached at once; more come back later
    # Upgrades that have not answered the challenge yet (anyone can open one): a short deadline,
    # a cap per address and one in all (beyond it the oldest is dropped), never the hubs' budget.
    handshake_timeout_s: float = 5.0
    # A new connection must send its request line (a hub tunnel its whole upgrade request) in
    # this time: silent or trickling sockets otherwise hold a file each, forever.
    request_head_s: float = 10.0
    max_pending: int = 1024
    pending_per_address: int = 32  # 0: no per-address cap (benches: every hub on one address)
    # Control links (claim codes for the CLI; a key anyone can make): few, and short-lived.
    max_control_links: int = 64
    control_per_address: int = 4
    control_link_s: float = 30.0
    # Peers whose X-Forwarded-For names the real client (a load balancer in front).
    trusted_proxies: tuple[str, ...] = ()
    # Bearer token of GET /metrics (Prometheus); None: metrics are off (404).
    metrics_token: str | None = None
    # Hub tunnels on websockets' sans-I/O protocol over a bare transport (relay/lean_tunnel.py:
    # ~half the memory of an aiohttp WebSocket); False serves them through the aiohttp route.
    lean_tunnels: bool = True
    max_tunnels: int = 0  # 0: as many as the open-file limit allows, minus a margin
    drain_spread_s: float = 10.0  # hubs told to reconnect spread over this many seconds
    # Before telling hubs to leave, report unhealthy this long so a load balancer stops
    # sending new phones and hubs here first (a rolling deploy behind HAProxy).
    drain_grace_s: float = 0.0
    queue_ttl_s: float = 3600.0  # default life of a desired write queued for an offline hub
    max_queue_per_hub: int = 200
    claim_code_ttl_s: float = 600.0
    # What a hub (a key anyone can make) may make the relay keep.
    max_claim_codes_per_hub: int = 5  # unused ones; a new code retires the oldest
    max_devices_per_hub: int = 2000
    max_record_bytes: int = 64 * 1024  # one device record, as JSON
    new_hubs_per_address_per_min: float = 10.0  # new hub identities one address may register
    session_ttl_s: float = 30 * 86400.0
    # An open events socket re-checks its account's membership this often, in case the
    # "members" event of a removal was lost between nodes.
    membership_recheck_s: float = 60.0
    shadow_flush_s: float = 0.5
    # A cluster: "postgresql://..." for the shared store (default: SQLite in data_dir) and
    # "redis://..." for routing between nodes (default: this process only).
    store_url: str = ""
    routing_url: str = ""
    routing_prefix: str = "homehub:relay:"  # Redis keys; separate clusters on one Redis
    node_id: str = ""  # this node's name in the cluster (default: random per start)
    node_url: str = ""  # how hubs reach this node directly (default: its listen URL)
    backup_quota_bytes: int = 1024 * 1024 * 1024  # encrypted backups per account
    # Web Push (relay/push.py). Endpoints must be https URLs of public hosts unless this is
    # set (tests and the demo push to a local recording endpoint over plain HTTP).
    push_allow_insecure_endpoints: bool = False
    push_contact: str = "mailto:relay@homehub.invalid"  # the VAPID "sub": the operator's
    push_ttl_s: float = 4 * 3600.0  # how long a push service keeps a push for an offline phone
    push_timeout_s: float = 10.0
    push_concurrency: int = 8  # pushes in flight at once (each in a pool thread)
    push_rate_per_hub: float = 1.0  # notifications per second one hub may push (sustained)
    push_burst_per_hub: float = 20.0
    max_push_subscriptions: int = 20  # per account (phones, browsers)

    @property
    def db_path(self) -> Path:
        """The relay's SQLite database."""
        return self.data_dir / "relay.db"

    @property
    def store_location(self) -> Path | str:
        """Where the store is: the PostgreSQL URL, or the SQLite file."""
        return self.store_url or self.db_path

    def with_overrides(self, **changes: Any) -> RelayConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)
