"""The hub's HTTP and WebSocket API as typed async calls; the TUI's only way to the hub.

    client = HubClient("http://192.168.1.20:8470", token)
    devices = await client.devices()
    await client.set_desired("lamp", {"power": True})
    await client.watch_events(on_event, on_state)   # reconnects by itself until close()
    await client.close()

REST calls raise HubUnreachable, AuthRequired, NotSupported or ApiError (see tui.errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import httpx

from tui.errors import ApiError, AuthRequired, HubUnreachable, NotSupported
from tui.models import Device, Discovered

_LOG = logging.getLogger(__name__)

API = "/api/v1"

OnEvent = Callable[[dict[str, Any]], Awaitable[None] | None]
OnState = Callable[["LinkState", str], Awaitable[None] | None]


def _quote(segment: str) -> str:
    """One path segment, escaped (scene names have spaces)."""
    return urllib.parse.quote(segment, safe="")


class LinkState(enum.Enum):
    """The live events connection."""

    CONNECTING = "connecting"  # first attempt, nothing known yet
    CONNECTED = "connected"  # events flow
    RETRYING = "retrying"  # no answer or connection lost; waiting before the next attempt
    REFUSED = "refused"  # something answered, but not with the events stream; retrying
    CLOSED = "closed"  # close() was called


class Backoff:
    """Exponential backoff with full jitter, reset after a good connection."""

    def __init__(self, first: float = 0.5, cap: float = 10.0) -> None:
        self.first = first
        self.cap = cap
        self.attempt = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt."""
        ceiling = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """A connection worked: start small again."""
        self.attempt = 0


def _error_from(resp: httpx.Response) -> ApiError:
    try:
        err = resp.json()["error"]
        message = str(err.get("message") or resp.reason_phrase)
        details = err.get("details") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        message, details = resp.text[:200] or resp.reason_phrase, {}
    status = resp.status_code
    if status in (401, 403):
        return AuthRequired(status, message, details)
    # The router says "no endpoint ..." for a path it does not know: a feature this hub lacks.
    if status == 405 or (status == 404 and message.startswith("no endpoint")):
        return NotSupported(status, message, details)
    return ApiError(status, message, details)


class HubClient:
    """One hub, one token; REST over httpx and live events over an aiohttp WebSocket."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._timeout = timeout
        self._backoff = backoff or Backoff()
        self._http: httpx.AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = asyncio.Event()
        self.state = LinkState.CONNECTING

    def __repr__(self) -> str:
        return f"HubClient({self.url!r})"

    # ------------------------------------------------------------------ plumbing
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.url + API, timeout=self._timeout)
        return self._http

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """Call an endpoint under /api/v1 and return its JSON (None for an empty body)."""
        hdrs = dict(headers or {})
        if auth and self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        try:
            resp = await self._client().request(
                method, path, json=json, params=dict(params or {}), headers=hdrs
            )
        except httpx.TransportError as err:
            raise HubUnreachable(
                f"the hub at {self.url} does not answer ({type(err).__name__}); "
                "is it running and on this network?"
            ) from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise HubUnreachable(f"cannot reach {self.url}: {err}; check the address") from err
        if resp.status_code >= 400:
            raise _error_from(resp)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as err:
            raise ApiError(
                resp.status_code,
                f"{self.url} answered {path} with something that is not JSON; "
                "is that address really a homehub hub?",
            ) from err

    async def close(self) -> None:
        """Stop the events connection and close the HTTP pools."""
        self._closed.set()
        self.state = LinkState.CLOSED
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ system and auth
    async def health(self) -> dict[str, Any]:
        """The hub's id, name, version and device count (no token needed)."""
        result: dict[str, Any] = await self.request("GET", "/health", auth=False)
        return result

    async def pair(self, code: str, client_name: str = "homehub tui") -> str:
        """Exchange the one-time code the hub shows for a token; keeps and returns it."""
        body = await self.request(
            "POST", "/pair", json={"code": code.strip(), "client_name": client_name}, auth=False
        )
        self.token = str(body["token"])
        return self.token

    async def relay_claim_code(self) -> dict[str, Any]:
        """A one-time code that attaches this hub to a relay account (the hub asks its relay)."""
        result: dict[str, Any] = await self.request("POST", "/relay/claim-code")
        return result

    async def backup_status(self) -> dict[str, Any]:
        """What the hub's backups are doing: running (phase, progress), last result, next due."""
        result: dict[str, Any] = await self.request("GET", "/backups/status")
        return result

    async def backup_now(self) -> dict[str, Any]:
        """Start a backup (its progress arrives as `backup` events)."""
        result: dict[str, Any] = await self.request("POST", "/backups", json={})
        return result

    # ------------------------------------------------------------------ devices
    async def devices(self) -> list[Device]:
        """Every device with its reported values."""
        body = await self.request("GET", "/devices")
        return [Device.from_dict(d) for d in body["devices"]]

    async def device(self, device_id: str) -> Device:
        """One device."""
        return Device.from_dict(await self.request("GET", f"/devices/{device_id}"))

    async def update_device(
        self, device_id: str, *, name: str | None = None, room: str | None = None
    ) -> Device:
        """Rename a device or move it to a room."""
        body = {k: v for k, v in (("name", name), ("room", room)) if v is not None}
        return Device.from_dict(await self.request("PATCH", f"/devices/{device_id}", json=body))

    async def set_desired(
        self,
        device_id: str,
        values: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """Ask a device for new values; returns the command id."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = await self.request(
            "PUT", f"/devices/{device_id}/desired", json={"values": dict(values)}, headers=headers
        )
        return str(body["command_id"])

    async def run_command(self, device_id: str, command: str) -> str:
        """Press a named (IR) button; returns the command id."""
        body = await self.request("POST", f"/devices/{device_id}/commands/{command}", json={})
        return str(body["command_id"])

    async def command_status(self, command_id: str) -> dict[str, Any]:
        """pending | sent | confirmed | failed | expired, with a reason."""
        result: dict[str, Any] = await self.request("GET", f"/commands/{command_id}")
        return result

    async def history(
        self,
        device_id: str,
        prop: str,
        start: float | None = None,
        end: float | None = None,
        resolution: float | None = None,
    ) -> list[dict[str, Any]]:
        """Samples {ts, value, min, max} of a numeric property."""
        params: dict[str, Any] = {"property": prop}
        for key, val in (("start", start), ("end", end), ("resolution", resolution)):
            if val is not None:
                params[key] = val
        body = await self.request("GET", f"/devices/{device_id}/history", params=params)
        return list(body["points"])

    # ------------------------------------------------------------------ discovery
    async def discovered(self) -> list[Discovered]:
        """Devices found on the network and not adopted yet."""
        body = await self.request("GET", "/discovered")
        return [Discovered.from_dict(d) for d in body["discovered"]]

    async def adopt(self, key: str, *, name: str | None = None, room: str | None = None) -> None:
        """Adopt a discovered device, naming it and putting it in a room."""
        body = {k: v for k, v in (("name", name), ("room", room)) if v}
        await self.request("POST", f"/discovered/{key}/adopt", json=body)

    # ------------------------------------------------------------------ rules
    async def rules(self) -> list[dict[str, Any]]:
        """Every rule (raises NotSupported on a hub without the rules engine)."""
        body = await self.request("GET", "/rules")
        return list(body["rules"])

    async def rule(self, rule_id: str) -> dict[str, Any]:
        """One rule as the hub stores it."""
        result: dict[str, Any] = await self.request("GET", f"/rules/{rule_id}")
        return result

    async def create_rule(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new rule (devices by name or id); an ApiError's details list the problems."""
        result: dict[str, Any] = await self.request("POST", "/rules", json=dict(doc))
        return result

    async def import_rules_yaml(self, text: str) -> list[str]:
        """Create or replace the rules in a YAML list; an ApiError's details carry the lines."""
        body = await self.request("POST", "/rules/import", json={"yaml": text})
        return [str(r) for r in body.get("imported", ())]

    async def set_rule_enabled(self, rule_id: str, enabled: bool) -> None:
        """Switch a rule on or off."""
        await self.request("POST", f"/rules/{rule_id}/{'enable' if enabled else 'disable'}")

    async def rule_traces(self, rule_id: str) -> list[dict[str, Any]]:
        """The rule's recent runs, newest first."""
        body = await self.request("GET", f"/rules/{rule_id}/traces")
        return list(body["traces"])

    async def rule_dry_run(self, rule_id: str) -> dict[str, Any]:
        """Would the rule fire now, and if not, why not (runs nothing)."""
        result: dict[str, Any] = await self.request("POST", f"/rules/{rule_id}/dry-run")
        return result

    async def delete_rule(self, rule_id: str) -> None:
        """Remove a rule with its timers and traces."""
        await self.request("DELETE", f"/rules/{_quote(rule_id)}")

    # ------------------------------------------------------------------ scenes
    async def scenes(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Stored scenes: name -> device id -> values."""
        body = await self.request("GET", "/scenes")
        return {str(s["name"]): dict(s["devices"]) for s in body["scenes"]}

    async def save_scene(self, name: str, devices: Mapping[str, Mapping[str, Any]]) -> None:
        """Create or replace a scene (device id or name -> the values to ask for)."""
        body = {"devices": {d: dict(v) for d, v in devices.items()}}
        await self.request("PUT", f"/scenes/{_quote(name)}", json=body)

    async def delete_scene(self, name: str) -> None:
        """Forget a scene."""
        await self.request("DELETE", f"/scenes/{_quote(name)}")

    async def run_scene(self, name: str) -> dict[str, str]:
        """Apply a scene now; returns the command id per device."""
        body = await self.request("POST", f"/scenes/{_quote(name)}/run")
        return {str(k): str(v) for k, v in (body.get("commands") or {}).items()}

    # ------------------------------------------------------------------ IR learning
    async def ir_learn_start(self, blaster_id: str, timeout_s: float = 20.0) -> str:
        """Put a blaster into learning mode; returns the session id."""
        body = await self.request(
            "POST", "/ir/learn", json={"blaster_id": blaster_id, "timeout_s": timeout_s}
        )
        return str(body["session_id"])

    async def ir_learn_status(self, session_id: str) -> dict[str, Any]:
        """{"state": waiting|captured|timeout|failed, "elapsed_s", "remaining_s", "code"}."""
        result: dict[str, Any] = await self.request("GET", f"/ir/learn/{session_id}")
        return result

    async def ir_learn_save(self, session_id: str, device_id: str, command: str) -> None:
        """Store the captured code as a named command of a device."""
        await self.request(
            "POST",
            f"/ir/learn/{session_id}/save",
            json={"device_id": device_id, "command": command},
        )

    # ------------------------------------------------------------------ live events
    def events_url(self, types: Sequence[str] = (), devices: Sequence[str] = ()) -> str:
        """The events WebSocket address with filters (the token goes in a header)."""
        base = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        query = [f"{k}={','.join(v)}" for k, v in (("types", types), ("devices", devices)) if v]
        return f"{base}{API}/events" + (f"?{'&'.join(query)}" if query else "")

    async def watch_events(
        self,
        on_event: OnEvent,
        on_state: OnState | None = None,
        *,
        types: Sequence[str] = (),
        devices: Sequence[str] = (),
    ) -> None:
        """Deliver live events until close(); reconnects with backoff, reporting each state."""

        async def report(state: LinkState, reason: str = "") -> None:
            self.state = state
            if on_state is not None:
                result = on_state(state, reason)
                if result is not None:
                    await result

        url = self.events_url(types, devices)
        while not self._closed.is_set():
            state = LinkState.RETRYING
            try:
                await self._stream_once(url, on_event, report)
                reason = "the hub closed the events connection"
            except AuthRequired:
                raise
            except aiohttp.WSServerHandshakeError as err:
                state = LinkState.REFUSED
                reason = (
                    f"{self.url} answered HTTP {err.status} instead of the events stream; "
                    "is it a homehub hub?"
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                reason = str(err) or type(err).__name__
            if self._closed.is_set():
                break
            await report(state, reason)
            delay = self._backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closed.wait()
        await report(LinkState.CLOSED)

    async def _stream_once(
        self,
        url: str,
        on_event: OnEvent,
        report: Callable[[LinkState, str], Awaitable[None]],
    ) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
            )
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            ws = await self._session.ws_connect(url, headers=headers, heartbeat=15.0)
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (401, 403):
                raise AuthRequired(err.status, "the hub refused the token; pair again") from err
            raise
        async with ws:
            self._backoff.reset()
            await report(LinkState.CONNECTED, "")
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                try:
                    event = msg.json()
                except ValueError:
                    _LOG.info("ignoring a non-JSON events message")
                    continue
                if not isinstance(event, dict):
                    continue
                result = on_event(event)
                if result is not None:
                    await result
