"""AWS Lambda forwarder for an Alexa Smart Home skill: directive in, the relay's answer out.

Alexa calls a Lambda function, never an arbitrary URL, so this one file stands between the skill
and the relay's `POST /v1/alexa`. Upload it as it is (Python 3.11+ runtime, handler
`alexa_lambda.lambda_handler`) and set the environment variable RELAY_URL to the relay's public
address (https://relay.example.org). It imports only the standard library, so the function
needs no layer and no packages. The account-linking token travels inside the directive, and the
relay checks it; the function holds no secret. docs/voice.md has the console settings.

When the relay cannot be reached in time, Alexa gets the ErrorResponse it expects
(BRIDGE_UNREACHABLE: "the device hub is unreachable") rather than a Lambda failure, so the
user hears why. Discovery has no error answer in the Smart Home API: a failed discovery raises,
and Alexa says it found nothing new.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from typing import Any

# Alexa waits 8 s for a skill's answer; leave room for Lambda's own start and the reply.
DEFAULT_TIMEOUT_S = 7.0
USER_AGENT = "homehub-alexa-lambda/1"


class RelayUnavailable(Exception):
    """The relay did not give a usable answer; `kind` is the Alexa error type to report."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Post the directive to the relay and return its answer (Lambda's entry point)."""
    directive = event.get("directive") if isinstance(event, dict) else None
    if not isinstance(directive, dict):
        raise ValueError("not an Alexa directive: the event has no 'directive' object")
    header = directive.get("header")
    header = header if isinstance(header, dict) else {}
    try:
        return forward(event)
    except RelayUnavailable as err:
        print(f"relay: {err.kind}: {err.message}")  # CloudWatch is where Lambda output goes
        if header.get("namespace") == "Alexa.Discovery":
            raise RuntimeError(f"discovery failed: {err.message}") from err
        return error_response(event, err.kind, err.message)


def forward(event: dict[str, Any]) -> dict[str, Any]:
    """The relay's answer to the directive, or RelayUnavailable saying why there is none."""
    base = os.environ.get("RELAY_URL", "").strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise RelayUnavailable(
            "INTERNAL_ERROR", "set the function's RELAY_URL to the relay, https://..."
        )
    timeout = float(os.environ.get("RELAY_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    request = urllib.request.Request(
        base + "/v1/alexa",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        kind = "RATE_LIMIT_EXCEEDED" if err.code == 429 else "INTERNAL_ERROR"
        raise RelayUnavailable(kind, f"the relay answered HTTP {err.code}") from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RelayUnavailable("BRIDGE_UNREACHABLE", f"{base} not reachable: {reason}") from err
    try:
        answer = json.loads(body)
    except ValueError as err:
        raise RelayUnavailable("INTERNAL_ERROR", "the relay's answer is not JSON") from err
    if not isinstance(answer, dict) or "event" not in answer:
        raise RelayUnavailable("INTERNAL_ERROR", "the relay's answer is not an Alexa event")
    return answer


def error_response(event: dict[str, Any], kind: str, message: str) -> dict[str, Any]:
    """An Alexa ErrorResponse for the directive (AcceptGrant has its own kind)."""
    directive = event["directive"]
    header = directive.get("header") or {}
    namespace = "Alexa"
    if header.get("namespace") == "Alexa.Authorization":
        namespace, kind = "Alexa.Authorization", "ACCEPT_GRANT_FAILED"
    out_header: dict[str, Any] = {
        "namespace": namespace,
        "name": "ErrorResponse",
        "payloadVersion": "3",
        "messageId": str(uuid.uuid4()),
    }
    if header.get("correlationToken"):
        out_header["correlationToken"] = header["correlationToken"]
    out: dict[str, Any] = {"header": out_header, "payload": {"type": kind, "message": message}}
    endpoint = directive.get("endpoint")
    if namespace == "Alexa" and isinstance(endpoint, dict) and endpoint.get("endpointId"):
        out["endpoint"] = {"endpointId": endpoint["endpointId"]}
        scope = endpoint.get("scope")
        if isinstance(scope, dict) and scope.get("type") == "BearerToken":
            out["endpoint"]["scope"] = {"type": "BearerToken", "token": scope.get("token", "")}
    return {"event": out}
