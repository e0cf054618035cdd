"""The Alexa Lambda forwarder (relay/voice/alexa_lambda.py) against a live relay with a linked hub.

The function runs as Lambda would run it: its file alone in a folder, in a separate Python
process started with -I -S (no site-packages, nothing of this checkout on the path), the
directive as its event, RELAY_URL in its environment. Its answers are the relay's; when the
relay is away it answers with the ErrorResponse Alexa expects, checked against Amazon's schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from voice_testkit import PASSWORD, eventually, link_account, relay_config, voice_clients

from hub import relay_link, testing
from integrations.virtual.integration import VirtualIntegration, demo_devices
from relay.voice import alexa_lambda
from relay.voice.service import VoiceRelayServer

HUB = "127.0.91.4"
RUNNER = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); import alexa_lambda; "
    "print(json.dumps(alexa_lambda.lambda_handler(json.load(sys.stdin), None)))"
)


async def run_lambda(folder: Path, relay_url: str, event: dict[str, Any]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of one invocation in a bare Python."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", RUNNER, str(folder),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"RELAY_URL": relay_url, "RELAY_TIMEOUT_S": "3"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(event).encode()), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def invoke(folder: Path, relay_url: str, event: dict[str, Any]) -> dict[str, Any]:
    code, out, err = await run_lambda(folder, relay_url, event)
    assert code == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def directive(namespace: str, name: str, token: str, endpoint: str | None = None) -> dict[str, Any]:
    header = {"namespace": namespace, "name": name, "payloadVersion": "3",
              "messageId": "m-1", "correlationToken": "c-1"}  # fmt: skip
    scope = {"type": "BearerToken", "token": token}
    body: dict[str, Any] = {"header": header, "payload": {}}
    if endpoint is None:
        body["payload"]["scope"] = scope
    else:
        body["endpoint"] = {"endpointId": endpoint, "scope": scope, "cookie": {}}
    return {"directive": body}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def function_folder(tmp_path: Path) -> Path:
    """The deployment package: the one file, nothing else."""
    folder = tmp_path / "lambda"
    folder.mkdir()
    shutil.copy(Path(alexa_lambda.__file__), folder / "alexa_lambda.py")
    return folder


@contextlib.asynccontextmanager
async def linked_home(tmp_path: Path) -> AsyncIterator[tuple[VoiceRelayServer, Any, str, str]]:
    """A relay, a hub dialled out to it and claimed by alice, and her Alexa access token."""
    relay = VoiceRelayServer(relay_config(tmp_path / "relay"), voice_clients())
    await relay.start()
    try:
        await relay.create_account("alice@example.org", PASSWORD)
        link = relay_link.RelayLink(
            relay.url, reconnect=relay_link.ReconnectLogic(base_s=0.05, cap_s=0.5)
        )
        async with (
            httpx.AsyncClient(base_url=relay.url, timeout=20.0) as http,
            testing.running_hub(
                tmp_path / "hub", [VirtualIntegration(demo_devices())],
                config={"api_host": HUB}, components=[link],
            ) as rh,
        ):  # fmt: skip
            await rh.hub.wait_integrations()
            await link.wait_connected(15)
            r = await http.post(
                "/v1/sessions", json={"email": "alice@example.org", "password": PASSWORD}
            )
            session = {"Authorization": f"Bearer {r.json()['token']}"}
            code = (await rh.client.post("/api/v1/relay/claim-code")).json()["code"]
            r = await http.post("/v1/hubs/claim", json={"code": code}, headers=session)
            assert r.status_code == 201, r.text
            token = (await link_account(http, "alice@example.org"))["access_token"]
            yield relay, rh, str(r.json()["hub_id"]), token
    finally:
        await relay.stop()


async def test_lambda_forwards_discovery_and_control_to_the_relay(
    tmp_path: Path, function_folder: Path
) -> None:
    async with linked_home(tmp_path) as (relay, rh, hub_id, token):
        lamp = f"{hub_id}:virtual-lamp"

        async def discovered() -> list[str]:
            out = await invoke(
                function_folder, relay.url, directive("Alexa.Discovery", "Discover", token)
            )
            assert out["event"]["header"]["name"] == "Discover.Response"
            return [e["endpointId"] for e in out["event"]["payload"]["endpoints"]]

        assert lamp in await eventually(discovered, what="the lamp in discovery via Lambda")

        out = await invoke(
            function_folder, relay.url, directive("Alexa.PowerController", "TurnOn", token, lamp)
        )
        assert out["event"]["header"]["name"] == "Response", out
        assert out["event"]["header"]["correlationToken"] == "c-1"

        def lamp_on() -> bool:
            reported = rh.hub.registry.devices["virtual-lamp"].shadow.reported.get("power")
            return reported is not None and reported.value is True

        await eventually(lamp_on, what="the lamp switched on through Lambda -> relay -> hub")

        # A token the relay does not know: the relay's own credential error comes through.
        out = await invoke(
            function_folder, relay.url, directive("Alexa.PowerController", "TurnOff", "nope", lamp)
        )
        assert out["event"]["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"


async def test_lambda_says_bridge_unreachable_when_the_relay_is_away(
    function_folder: Path, alexa_schema_check: Any
) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    out = await invoke(
        function_folder, away, directive("Alexa.PowerController", "TurnOn", "t", "hub_x:lamp")
    )
    assert out["event"]["header"]["namespace"] == "Alexa"
    assert out["event"]["header"]["name"] == "ErrorResponse"
    assert out["event"]["header"]["correlationToken"] == "c-1"
    assert out["event"]["payload"]["type"] == "BRIDGE_UNREACHABLE"
    assert away in out["event"]["payload"]["message"]
    assert out["event"]["endpoint"]["endpointId"] == "hub_x:lamp"
    out = await invoke(function_folder, away, directive("Alexa.Authorization", "AcceptGrant", "t"))
    assert out["event"]["payload"]["type"] == "ACCEPT_GRANT_FAILED"
    if alexa_schema_check is not None:
        alexa_schema_check.check(
            await invoke(function_folder, away, directive("Alexa", "ReportState", "t", "hub_x:l")),
            "alexa_lambda.error_response",
        )
    # Discovery has no error answer: the invocation fails and Alexa reports nothing found.
    code, _, err = await run_lambda(
        function_folder, away, directive("Alexa.Discovery", "Discover", "t")
    )
    assert code != 0 and "discovery failed" in err
    # No RELAY_URL set: said plainly.
    code, out_text, _ = await run_lambda(
        function_folder, "", directive("Alexa.PowerController", "TurnOn", "t", "hub_x:lamp")
    )
    assert code == 0 and "set the function's RELAY_URL" in out_text
