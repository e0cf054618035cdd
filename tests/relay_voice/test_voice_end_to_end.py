"""Alexa and Google change an emulated ECHONET air conditioner behind a hub that only dialled out.

Real relay (with the voice endpoints), real hubs linked over WebSocket, a real ECHONET Lite node
on UDP 3610, OAuth tokens obtained through the linking flow; all on 127.0.91.x. Every Alexa
answer is checked against Amazon's schema by the conftest.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from voice_testkit import PASSWORD, eventually, link_account, relay_config, voice_clients

from hub import relay_link, testing
from integrations.echonet.emulator import EchonetNode
from integrations.echonet.integration import EchonetIntegration
from integrations.virtual.integration import VirtualIntegration, demo_devices
from relay.voice import RecordingChangeReportSender
from relay.voice.service import VoiceRelayServer

HUB_A = "127.0.91.2"
HUB_B = "127.0.91.3"
NODE = "127.0.91.10"


@contextlib.asynccontextmanager
async def _hub(data_dir: Path, relay_url: str, host: str, integrations: list[Any],
               config: dict[str, Any]) -> AsyncIterator[Any]:
    link = relay_link.RelayLink(
        relay_url, reconnect=relay_link.ReconnectLogic(base_s=0.05, cap_s=0.5))
    async with testing.running_hub(data_dir, integrations, config={"api_host": host, **config},
                                   components=[link]) as rh:
        await rh.hub.wait_integrations()
        await link.wait_connected(15)
        yield rh


async def _claim(relay: httpx.AsyncClient, hub: Any, email: str) -> str:
    r = await relay.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    session = {"Authorization": f"Bearer {r.json()['token']}"}
    code = (await hub.client.post("/api/v1/relay/claim-code")).json()["code"]
    r = await relay.post("/v1/hubs/claim", json={"code": code}, headers=session)
    assert r.status_code == 201, r.text
    return str(r.json()["hub_id"])


def _directive(namespace: str, name: str, token: str, endpoint: str | None = None,
               payload: dict[str, Any] | None = None, message_id: str = "m-1") -> dict[str, Any]:
    header = {"namespace": namespace, "name": name, "payloadVersion": "3",
              "messageId": message_id, "correlationToken": "c-1"}
    body: dict[str, Any] = {"header": header, "payload": payload or {}}
    scope = {"type": "BearerToken", "token": token}
    if endpoint is None:
        body["payload"].setdefault("scope", scope)
    else:
        body["endpoint"] = {"endpointId": endpoint, "scope": scope, "cookie": {}}
    return {"directive": body}


class Assistants:
    """Alexa's and Google's calls to the relay, each with one account's token."""

    def __init__(self, client: httpx.AsyncClient, alexa_token: str, google_token: str) -> None:
        self.client = client
        self.alexa_token = alexa_token
        self.google_token = google_token
        self.n = 0

    async def alexa(self, namespace: str, name: str, endpoint: str | None = None,
                    payload: dict[str, Any] | None = None,
                    message_id: str | None = None) -> dict[str, Any]:
        self.n += 1
        r = await self.client.post("/v1/alexa", json=_directive(
            namespace, name, self.alexa_token, endpoint, payload, message_id or f"m-{self.n}"))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def google(self, intent: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        self.n += 1
        inp: dict[str, Any] = {"intent": f"action.devices.{intent}"}
        if payload is not None:
            inp["payload"] = payload
        r = await self.client.post(
            "/v1/google/fulfillment", json={"requestId": f"r-{self.n}", "inputs": [inp]},
            headers={"Authorization": f"Bearer {self.google_token}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def state(self, endpoint: str) -> dict[str, Any]:
        out = await self.alexa("Alexa", "ReportState", endpoint)
        return {p.get("instance") or p["name"]: p["value"] for p in out["context"]["properties"]}


async def test_alexa_and_google_drive_an_echonet_aircon(
    tmp_path: Path, alexa_schema_check: Any
) -> None:
    node = EchonetNode(bind=NODE, objects=["aircon"])
    await node.start()
    unit = node.object("aircon")
    echonet = {"integrations": {"echonet": {
        "bind": HUB_A, "hosts": [NODE], "multicast": False, "poll_interval_s": 0.3,
        "timeout_s": 1.0, "retries": 1}}}
    reports = RecordingChangeReportSender()
    virtual = VirtualIntegration(demo_devices())
    relay = VoiceRelayServer(relay_config(tmp_path / "relay"), voice_clients(), reports=reports)
    await relay.start()
    try:
        alice_id = await relay.create_account("alice@example.org", PASSWORD)
        await relay.create_account("bob@example.org", PASSWORD)
        async with (
            httpx.AsyncClient(base_url=relay.url, timeout=20.0) as http,
            _hub(tmp_path / "hub-a", relay.url, HUB_A, [EchonetIntegration()], echonet) as hub_a,
            _hub(tmp_path / "hub-b", relay.url, HUB_B, [virtual], {}) as hub_b,
        ):
            hub_a_id = await _claim(http, hub_a, "alice@example.org")
            hub_b_id = await _claim(http, hub_b, "bob@example.org")
            alice = Assistants(http, (await link_account(http, "alice@example.org"))[
                "access_token"], (await link_account(http, "alice@example.org", alexa=False))[
                "access_token"])
            bob = Assistants(http, (await link_account(http, "bob@example.org"))["access_token"],
                             (await link_account(http, "bob@example.org", alexa=False))[
                                 "access_token"])

            async def aircon_endpoint() -> str | None:
                out = await alice.alexa("Alexa.Discovery", "Discover")
                found = [e["endpointId"] for e in out["event"]["payload"]["endpoints"]
                         if e["displayCategories"] == ["THERMOSTAT"]]
                return found[0] if found else None

            ac = await eventually(aircon_endpoint, what="the aircon in Alexa discovery")
            assert ac.startswith(hub_a_id + ":")
            # Alice lets the skill send proactive reports (Bob does not).
            out = await alice.alexa("Alexa.Authorization", "AcceptGrant", payload={
                "grant": {"type": "OAuth2.AuthorizationCode", "code": "lwa-code"},
                "grantee": {"type": "BearerToken", "token": alice.alexa_token}})
            assert out["event"]["header"]["name"] == "AcceptGrant.Response"
            assert unit.values[0x80] == b"\x31"  # off

            # Alexa: TurnOn reaches the unit over UDP; the relay's cache converges.
            out = await alice.alexa("Alexa.PowerController", "TurnOn", ac)
            assert out["event"]["header"]["name"] == "Response", out
            await eventually(lambda: unit.values[0x80] == b"\x30", what="unit switched on")

            async def alexa_sees_on() -> bool:
                return (await alice.state(ac)).get("powerState") == "ON"

            await eventually(alexa_sees_on, what="ReportState ON from the relay cache")

            def power_reported() -> list[Any]:
                return [m for _, m in reports.sent if m["event"]["endpoint"]["endpointId"] == ac
                        and any(p["name"] == "powerState" and p["value"] == "ON"
                                for p in m["event"]["payload"]["change"]["properties"])]

            [report] = await eventually(power_reported, what="a ChangeReport of the power")
            assert report["event"]["endpoint"]["scope"]["token"] == f"event-token-{alice_id}"
            assert {a for a, _ in reports.sent} == {alice_id}

            # Google: EXECUTE a mode and a set point.
            sync = await alice.google("SYNC")
            ids = {d["id"]: d for d in sync["payload"]["devices"]}
            assert ac in ids and ids[ac]["type"] == "action.devices.types.AC_UNIT"
            assert not any(i.startswith(hub_b_id) for i in ids)
            out = await alice.google("EXECUTE", {"commands": [{
                "devices": [{"id": ac}],
                "execution": [
                    {"command": "action.devices.commands.ThermostatSetMode",
                     "params": {"thermostatMode": "heat"}},
                    {"command": "action.devices.commands.ThermostatTemperatureSetpoint",
                     "params": {"thermostatTemperatureSetpoint": 22}}]}]})
            assert out["payload"]["commands"] == [{
                "ids": [ac], "status": "SUCCESS", "states": out["payload"]["commands"][0][
                    "states"]}]
            await eventually(lambda: unit.values[0xB0] == b"\x43" and unit.values[0xB3] ==
                             bytes([22]), what="unit in heat mode at 22 °C")

            async def google_sees_heat() -> bool:
                q = await alice.google("QUERY", {"devices": [{"id": ac}]})
                got = q["payload"]["devices"][ac]
                return got.get("thermostatMode") == "heat" and got.get(
                    "thermostatTemperatureSetpoint") == 22

            await eventually(google_sees_heat, what="QUERY heat/22 from the relay cache")

            # Tenancy: Bob's tokens cannot see or touch Alice's unit, nor she his lamp.
            lamp = f"{hub_b_id}:virtual-lamp"
            out = await bob.alexa("Alexa.PowerController", "TurnOff", ac)
            assert out["event"]["payload"]["type"] == "NO_SUCH_ENDPOINT"
            out = await bob.alexa("Alexa", "ReportState", ac)
            assert out["event"]["payload"]["type"] == "NO_SUCH_ENDPOINT"
            out = await bob.google("EXECUTE", {"commands": [{
                "devices": [{"id": ac}], "execution": [{
                    "command": "action.devices.commands.OnOff", "params": {"on": False}}]}]})
            assert out["payload"]["commands"][0]["errorCode"] == "deviceNotFound"
            q = await bob.google("QUERY", {"devices": [{"id": ac}]})
            assert q["payload"]["devices"][ac] == {
                "online": False, "status": "ERROR", "errorCode": "deviceNotFound"}
            bob_sync = await bob.google("SYNC")
            assert {d["id"] for d in bob_sync["payload"]["devices"]} >= {lamp}
            assert not any(d["id"].startswith(hub_a_id) for d in bob_sync["payload"]["devices"])
            out = await alice.alexa("Alexa.PowerController", "TurnOn", lamp)
            assert out["event"]["payload"]["type"] == "NO_SUCH_ENDPOINT"
            assert unit.values[0x80] == b"\x30"
            assert hub_b.hub.registry.devices["virtual-lamp"].shadow.reported[
                "power"].value is False
            assert await relay.store.queue_count(hub_a_id) == 0
            assert await relay.store.queue_count(hub_b_id) == 0

            # Bob's own lamp works for Bob, and a directive Alexa retries applies once.
            for _ in range(2):
                out = await bob.alexa("Alexa.PowerController", "TurnOn", lamp,
                                      message_id="retried-1")
                assert out["event"]["header"]["name"] == "Response", out
            await eventually(lambda: virtual.devices["virtual-lamp"].values["power"] is True,
                             what="Bob's lamp on")
            assert virtual.devices["virtual-lamp"].applied == [{"power": True}]

        # Hub A has gone: state comes from the cache, commands are refused as unreachable.
        async with httpx.AsyncClient(base_url=relay.url, timeout=20.0) as http:
            alice.client = http

            async def offline() -> bool:
                return (await alice.state(ac)).get("connectivity") == {"value": "UNREACHABLE"}

            await eventually(offline, what="EndpointHealth UNREACHABLE")
            state = await alice.state(ac)
            assert state["powerState"] == "ON"
            assert state["targetSetpoint"] == {"value": 22.0, "scale": "CELSIUS"}
            out = await alice.alexa("Alexa.PowerController", "TurnOff", ac)
            assert out["event"]["payload"]["type"] == "ENDPOINT_UNREACHABLE"
            q = await alice.google("QUERY", {"devices": [{"id": ac}]})
            assert q["payload"]["devices"][ac]["online"] is False
            assert q["payload"]["devices"][ac]["thermostatMode"] == "heat"
            out = await alice.google("EXECUTE", {"commands": [{
                "devices": [{"id": ac}], "execution": [{
                    "command": "action.devices.commands.OnOff", "params": {"on": False}}]}]})
            assert out["payload"]["commands"] == [
                {"ids": [ac], "status": "OFFLINE", "errorCode": "deviceOffline"}]
            assert await relay.store.queue_count(hub_a_id) == 0
        if alexa_schema_check is not None:  # the webhook's answers went through the schema check
            assert len(alexa_schema_check.checked) >= 10
    finally:
        await relay.stop()
        await node.stop()
