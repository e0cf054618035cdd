"""Prometheus metrics of one hub or relay process (`GET /metrics`, its own bearer token).

Each server keeps its own registry (tests run several in one process). Request counts and
latencies are observed as requests finish; the rest (connections, tunnels, queue depths, limit
counters the server keeps anyway) are read when Prometheus scrapes, through callbacks, so the
hot paths carry no extra bookkeeping. With no token configured `/metrics` answers 404: the
numbers say how busy a home is and who is attacking it, so they are never public.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric

#: Request latency buckets (seconds): LAN answers take milliseconds, relay round trips more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Reading = float | Mapping[tuple[str, ...], float]
_Item = tuple[str, str, str, tuple[str, ...], Callable[[], Reading]]


class _Callbacks:
    """Gauges and counters whose values the server already keeps, read at scrape time
    (a prometheus_client collector: it only needs `collect`)."""

    def __init__(self, items: list[_Item]) -> None:
        self.items = items

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for kind, name, help_text, labels, read in self.items:
            family: GaugeMetricFamily | CounterMetricFamily
            if kind == "gauge":
                family = GaugeMetricFamily(name, help_text, labels=labels or None)
            else:
                family = CounterMetricFamily(name, help_text, labels=labels or None)
            value = read()
            if isinstance(value, Mapping):
                for label_values, number in value.items():
                    family.add_metric(list(label_values), number)
            else:
                family.add_metric([], value)
            yield family


class Metrics:
    """The registry of one server, its request instruments and the `/metrics` handler.

    Without a token nobody can read the numbers, so none are kept: prometheus_client is not
    even imported (about 1.2 MB of a hub that must fit a small board).
    """

    def __init__(self, prefix: str, token: str | None) -> None:
        self.prefix = prefix
        self.token = token
        self._items: list[_Item] = []
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self._requests: Counter | None = None
        self._latency: Histogram | None = None
        if token:
            from prometheus_client import CollectorRegistry, Counter, Histogram

            self.registry = CollectorRegistry(auto_describe=True)
            self._requests = Counter(
                f"{prefix}_http_requests", "HTTP requests answered, by route template and status",
                ["method", "route", "status"], registry=self.registry,
            )  # fmt: skip
            self._latency = Histogram(
                f"{prefix}_http_request_seconds", "Time to answer an HTTP request, by route",
                ["method", "route"], buckets=BUCKETS, registry=self.registry,
            )  # fmt: skip
            self.registry.register(_Callbacks(self._items))

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        """One answered request (`seconds` None: not timed, e.g. a WebSocket's whole life)."""
        if self._requests is None or self._latency is None:
            return  # metrics are off
        self._requests.labels(method, route, str(status)).inc()
        if seconds is not None:
            self._latency.labels(method, route).observe(seconds)

    def gauge(
        self, name: str, help_text: str, read: Callable[[], Reading], labels: Iterable[str] = ()
    ) -> None:
        """A gauge read at scrape time (`read` returns a number, or label values -> number)."""
        self._items.append(("gauge", f"{self.prefix}_{name}", help_text, tuple(labels), read))

    def counter(
        self, name: str, help_text: str, read: Callable[[], Reading], labels: Iterable[str] = ()
    ) -> None:
        """A counter the server keeps itself (it only grows), read at scrape time."""
        self._items.append(("counter", f"{self.prefix}_{name}", help_text, tuple(labels), read))

    def refresh_before_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """An async step run before each scrape (numbers only a database query can give)."""
        self._refreshers.append(refresh)

    def authorized(self, header: str | None) -> bool:
        """Is this the metrics token (any case of 'Bearer', compared in constant time)?"""
        if not self.token or not header:
            return False
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )

    async def handle(self, request: web.Request) -> web.Response:
        """GET /metrics: the text exposition format; 404 when off, 401 without the token."""
        if not self.token:
            return web.json_response(
                {"error": {"status": 404, "message": "metrics are off; give the process a "
                           "metrics token to turn them on"}},
                status=404,
            )  # fmt: skip
        if not self.authorized(request.headers.get("Authorization")):
            return web.json_response(
                {"error": {"status": 401, "message": "send the metrics token as "
                           "'Authorization: Bearer <token>'"}},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )  # fmt: skip
        for refresh in self._refreshers:
            await refresh()
        from prometheus_client import CONTENT_TYPE_LATEST
        from prometheus_client.exposition import generate_latest

        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class Timer:
    """Seconds since it was made (perf_counter)."""

    __slots__ = ("start",)

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        """Elapsed seconds."""
        return time.perf_counter() - self.start
