"""Device JSON shaped like the hub API's, and an in-memory VoiceBackend, for the voice tests."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skip_policy import TESTDATA

from hub.model.vocabulary import spec_for
from relay.voice import ApplyFailure, ApplyResult, ApplyStatus, HubDevices, endpoint_id

ALEXA_DATA = TESTDATA / "alexa"
SCHEMA_PATH = ALEXA_DATA / "validation_schemas" / "alexa_smart_home_message_schema.json"
SAMPLES = ALEXA_DATA / "sample_messages"
HUB_A = "hub_aaaaaaaaaaaaaaaaaaaaaaaa"
HUB_B = "hub_bbbbbbbbbbbbbbbbbbbbbbbb"


def device_json(device_id: str, name: str, values: Mapping[str, Any], *, room: str | None = None,
                online: bool = True, narrow: Mapping[str, Mapping[str, Any]] | None = None,
                ts: float | None = None) -> dict[str, Any]:
    """A device as the hub API serialises it (properties from the shared vocabulary)."""
    narrow = narrow or {}
    stamp = time.time() if ts is None else ts
    return {
        "id": device_id,
        "name": name,
        "room": room,
        "integration": "echonet",
        "model": "Air conditioner" if "mode" in values else "Device",
        "manufacturer": "Emulated",
        "address": "127.0.0.1",
        "online": online,
        "assumed_state": False,
        "properties": [spec_for(k, **narrow.get(k, {})).to_dict() for k in values],
        "shadow": {
            "device_id": device_id,
            "version": 7,
            "reported": {k: {"value": v, "ts": stamp, "version": 3} for k, v in values.items()},
            "desired": {},
            "delta": {},
        },
    }


def aircon(device_id: str = "echonet-0a0b-013001", **values: Any) -> dict[str, Any]:
    """An ECHONET-like air conditioner (set point 16 to 30 °C)."""
    base = {"power": True, "mode": "cool", "target_temperature": 24.0, "temperature": 26.5,
            "humidity": 55.0, "fan_speed": "auto"}
    base.update(values)
    return device_json(device_id, "Bedroom AC", base, room="Bedroom",
                       narrow={"target_temperature": {"minimum": 16, "maximum": 30},
                               "mode": {"choices": ("auto", "cool", "heat", "dry", "fan")}})


def light(device_id: str = "esphome-lamp.main", **values: Any) -> dict[str, Any]:
    """A dimmable light (its id has a dot, which Alexa ids cannot carry as is)."""
    return device_json(device_id, "Desk lamp", {"power": False, "brightness": 40, **values},
                       room="Study")


def plug(device_id: str = "esphome-plug") -> dict[str, Any]:
    """A switched plug with a power meter."""
    return device_json(device_id, "Kettle plug", {"power": True, "power_w": 3.5})


def sensor(device_id: str = "esphome-climate") -> dict[str, Any]:
    """A temperature and humidity sensor."""
    return device_json(device_id, "Hall sensor", {"temperature": 19.5, "humidity": 48.0})


def meter(device_id: str = "echonet-meter") -> dict[str, Any]:
    """A smart meter: nothing a voice assistant can use."""
    return device_json(device_id, "Meter", {"power_w": 420.0, "energy_kwh": 1234.5})


class FakeBackend:
    """Hubs per account in memory; writes recorded; offline hubs queue like the relay does."""

    def __init__(self) -> None:
        self.accounts: dict[str, list[str]] = {}
        self.hub_devices: dict[str, list[dict[str, Any]]] = {}
        self.online: dict[str, bool] = {}
        self.writes: list[tuple[str, str, str, dict[str, Any], str]] = []
        self.next_result: ApplyResult | None = None

    def add_hub(self, account: str, hub_id: str, devices: Sequence[dict[str, Any]],
                online: bool = True) -> None:
        """Give an account a hub."""
        self.accounts.setdefault(account, []).append(hub_id)
        self.hub_devices[hub_id] = list(devices)
        self.online[hub_id] = online

    async def hubs(self, account: str) -> list[HubDevices]:
        """The account's hubs (a deep copy, as the relay would serialise them)."""
        return [HubDevices(h, self.online[h], json.loads(json.dumps(self.hub_devices[h])))
                for h in self.accounts.get(account, [])]

    async def apply(self, account: str, hub_id: str, device_id: str,
                    values: Mapping[str, Any], idempotency_key: str) -> ApplyResult:
        """Record the write; the backend itself enforces tenancy like the relay."""
        if hub_id not in self.accounts.get(account, []):
            return ApplyResult(ApplyStatus.ERROR, ApplyFailure.NOT_FOUND, "not your hub")
        self.writes.append((account, hub_id, device_id, dict(values), idempotency_key))
        if self.next_result is not None:
            return self.next_result
        if not self.online[hub_id]:
            return ApplyResult(ApplyStatus.QUEUED)
        return ApplyResult(ApplyStatus.SUCCESS)


def ep(hub_id: str, device: Mapping[str, Any]) -> str:
    """The endpoint id of a test device."""
    return endpoint_id(hub_id, str(device["id"]))


def directive(namespace: str, name: str, endpoint: str | None = None,
              payload: Mapping[str, Any] | None = None, token: str = "token-a",
              instance: str | None = None) -> dict[str, Any]:
    """An Alexa directive as Alexa sends it."""
    header: dict[str, Any] = {"namespace": namespace, "name": name, "payloadVersion": "3",
                              "messageId": "m-1", "correlationToken": "corr-token=="}
    if instance is not None:
        header["instance"] = instance
    body: dict[str, Any] = {"header": header, "payload": dict(payload or {})}
    if endpoint is not None:
        body["endpoint"] = {"endpointId": endpoint, "cookie": {},
                            "scope": {"type": "BearerToken", "token": token}}
    return {"directive": body}


# ------------------------------------------------------------------ relay + OAuth helpers
RELAY_HOST = "127.0.91.1"
PASSWORD = "correct horse battery"
ALEXA_REDIRECT = "https://layla.amazon.com/api/skill/link/M2AAAAAAAAAAAA"
GOOGLE_REDIRECT = "https://oauth-redirect.googleusercontent.com/r/homehub-test"


async def eventually(check: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `check` (sync or async) until truthy."""
    import asyncio

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def voice_clients() -> list[Any]:
    """An Alexa skill (public client: PKCE) and a Google project (confidential client)."""
    from relay.voice.oauth import OAuthClient, secret_digest

    return [
        OAuthClient("alexa-skill", (ALEXA_REDIRECT,), None, "Alexa"),
        OAuthClient("google-home", (GOOGLE_REDIRECT,), secret_digest("google-secret"), "Google"),
    ]


def relay_config(data_dir: Path, host: str = RELAY_HOST) -> Any:
    """Quick heartbeats and flushes."""
    from relay import RelayConfig

    return RelayConfig(data_dir=data_dir, host=host, port=0, heartbeat_s=1.0,
                       drain_spread_s=0.5, shadow_flush_s=0.05)


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), computed here with hashlib, not with authlib."""
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


async def link_account(client: Any, email: str, *, alexa: bool = True) -> dict[str, Any]:
    """Run the whole linking flow as the assistant and the user would; returns the tokens."""
    from urllib.parse import parse_qs, urlsplit

    verifier, challenge = pkce()
    params = {"response_type": "code", "state": "st-1", "scope": "devices",
              "client_id": "alexa-skill" if alexa else "google-home",
              "redirect_uri": ALEXA_REDIRECT if alexa else GOOGLE_REDIRECT}
    if alexa:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = await client.get("/v1/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    assert "<form" in page.text and page.headers["x-frame-options"] == "DENY"
    r = await client.post("/v1/oauth/authorize", params=params,
                          data={"email": email, "password": PASSWORD, "decision": "allow"})
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == params["redirect_uri"]
    assert query["state"] == ["st-1"]
    form = {"grant_type": "authorization_code", "code": query["code"][0],
            "redirect_uri": params["redirect_uri"]}
    if alexa:
        form |= {"client_id": "alexa-skill", "code_verifier": verifier}
        r = await client.post("/v1/oauth/token", data=form)
    else:
        r = await client.post("/v1/oauth/token", data=form, auth=("google-home", "google-secret"))
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    assert tokens["token_type"].lower() == "bearer" and tokens["refresh_token"]
    return tokens
