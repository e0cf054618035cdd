"""The hub's Prometheus metrics (`GET /metrics` with `[api] metrics_token`).

Requests and latencies by route come from the HTTP adapter; the rest is read at scrape time
from what the hub keeps anyway: connections and what the connection and pairing limits
refused, devices online, desired values not yet confirmed (the write queue), writes to devices
by integration and outcome with their time, rule runs, and the relay link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.metrics import Metrics

if TYPE_CHECKING:
    from hub.app import Hub


def hub_metrics(hub: Hub) -> Metrics:
    """The metrics of one hub."""
    m = Metrics("homehub", hub.config.metrics_token)
    registry = hub.registry

    def connections() -> float:
        return float(len(hub.connections)) if hub.connections is not None else 0.0

    def rejected() -> dict[tuple[str, ...], float]:
        guard = hub.connections
        return {
            ("connection_cap",): guard.refused if guard else 0,
            ("connection_oldest_cut",): guard.evicted if guard else 0,
            ("slow_client",): guard.slow_closed if guard else 0,
            ("pairing_codes",): hub.auth.pairing_limits.refused,
        }

    def devices() -> dict[tuple[str, ...], float]:
        online = sum(1 for rec in registry.devices.values() if rec.online)
        return {("true",): online, ("false",): len(registry.devices) - online}

    def write_queue() -> float:
        return float(sum(len(rec.shadow.desired) for rec in registry.devices.values()))

    def round_trips() -> dict[tuple[str, ...], float]:
        return {key: stat[0] for key, stat in registry.round_trips.items()}

    def round_trip_seconds() -> dict[tuple[str, ...], float]:
        return {key: stat[1] for key, stat in registry.round_trips.items()}

    def rule_runs() -> float:
        return float(sum(getattr(getattr(c, "runner", None), "started", 0) for c in hub.components))

    def relay_connected() -> float:
        for component in hub.components:
            status = getattr(component, "status", None)
            if callable(status) and hasattr(component, "relay_url"):
                return 1.0 if status().get("state") == "connected" else 0.0
        return 0.0

    m.gauge("connections", "Open HTTP connections", connections)
    m.gauge("connections_max", "HTTP connections admitted at once",
            lambda: float(hub.connections.max_connections) if hub.connections else 0.0)  # fmt: skip
    m.counter("rejected_by_limit", "Connections and requests a limit refused", rejected,
              labels=("limit",))  # fmt: skip
    m.gauge("devices", "Devices, by online", devices, labels=("online",))
    m.gauge("desired_pending", "Desired values written but not yet confirmed by the device",
            write_queue)  # fmt: skip
    m.counter("device_round_trips", "Writes sent to devices, by integration and outcome",
              round_trips, labels=("integration", "outcome"))  # fmt: skip
    m.counter("device_round_trip_seconds", "Seconds spent on those writes",
              round_trip_seconds, labels=("integration", "outcome"))  # fmt: skip
    m.counter("rule_runs", "Rule runs started since the hub started", rule_runs)
    m.gauge("event_streams", "Live event streams (API WebSockets, the relay link)",
            lambda: float(len(hub.bus._streams)))  # fmt: skip
    m.gauge("relay_connected", "1 while the relay tunnel is up", relay_connected)
    return m
