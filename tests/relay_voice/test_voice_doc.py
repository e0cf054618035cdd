"""docs/voice.md names what the relay and the Lambda function really have: every path it lists
is served by a live voice relay, its clients.json is accepted, the handler, environment
variables, scope and token lifetime are the code's."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
from voice_testkit import relay_config, voice_clients

from relay import cli as relay_cli
from relay.voice import alexa_lambda, google
from relay.voice.oauth import ACCESS_TTL_S, SCOPE, clients_from_json
from relay.voice.service import VoiceRelayServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "voice.md"


def test_clients_json_of_the_doc_is_accepted() -> None:
    text = DOC.read_text()
    block = re.search(r"```json\n(\[.*?\])\n```", text, re.DOTALL)
    assert block, "docs/voice.md needs the clients.json example"
    filled = re.sub(r"<sha256 of the \w+ secret>", hashlib.sha256(b"s").hexdigest(), block[1])
    clients = clients_from_json(json.loads(filled))
    assert {c.client_id for c in clients} == {"alexa-skill", "google-home"}
    assert all(c.secret_sha256 for c in clients)  # both consoles send a secret (HTTP Basic)


def test_handler_settings_and_flags_match_the_code() -> None:
    text = DOC.read_text()
    module = Path(alexa_lambda.__file__)
    assert f"relay/voice/{module.name}" in text
    assert f"Handler: `{module.stem}.lambda_handler`" in text and alexa_lambda.lambda_handler
    source = module.read_text()
    for name in ("RELAY_URL", "RELAY_TIMEOUT_S"):
        assert name in text and f'"{name}"' in source
    assert f"default {alexa_lambda.DEFAULT_TIMEOUT_S:g}" in text
    assert f"Scope: **`{SCOPE}`**" in text and f"Scopes: **`{SCOPE}`**" in text
    assert ACCESS_TTL_S == 3600 and "last an hour" in text
    cli_source = Path(relay_cli.__file__).read_text()
    for flag in ("--oauth-clients", "--public-url"):
        assert flag in text and f'"{flag}"' in cli_source
    # The doc says Google gets no Report State; the SYNC answer must agree.
    assert '"willReportState": False' in Path(google.__file__).read_text()


async def test_every_path_in_the_doc_is_served(tmp_path: Path) -> None:
    paths = sorted(set(re.findall(r"`(/v1/[a-z/]+)`", DOC.read_text())))
    assert len(paths) >= 5
    relay = VoiceRelayServer(relay_config(tmp_path), voice_clients())
    await relay.start()
    try:
        async with httpx.AsyncClient(base_url=relay.url, timeout=10) as http:
            for path in paths:
                method = "GET" if path.endswith("/authorize") else "POST"
                r = await http.request(method, path)
                assert r.status_code not in (404, 405), f"{method} {path}: {r.status_code}"
    finally:
        await relay.stop()
