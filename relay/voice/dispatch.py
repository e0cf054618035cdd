"""Transport-neutral handlers: an assistant's request and an account in, the answer out.

The caller (the webhook) has already resolved the OAuth token to `account`; every device
lookup and write goes through `backend` scoped to that account, so an account can only
ever reach its own hubs. Commands for unreachable devices are refused with the assistant's
unreachable error; state questions are answered from the relay's cache.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from relay.voice import alexa, alexa_directives, google
from relay.voice.backend import ApplyFailure, ApplyResult, ApplyStatus, VoiceBackend
from relay.voice.change_reports import ChangeReportSender, LoggingChangeReportSender
from relay.voice.devices import VoiceDevice, find_device
from relay.voice.errors import (
    EndpointBusy,
    EndpointUnreachable,
    InternalError,
    InvalidDirective,
    InvalidValue,
    NoSuchEndpoint,
    VoiceError,
)

_LOG = logging.getLogger(__name__)
Json = dict[str, Any]
_DEFAULT_REPORTS = LoggingChangeReportSender()


async def account_devices(backend: VoiceBackend, account: str) -> list[VoiceDevice]:
    """Every device of the account's hubs (malformed cache entries are skipped)."""
    out = []
    for hub in await backend.hubs(account):
        for data in hub.devices:
            try:
                out.append(VoiceDevice.from_json(hub.hub_id, hub.online, data))
            except (KeyError, TypeError, ValueError) as err:
                _LOG.warning("skipping a malformed cached device of hub %s: %s", hub.hub_id, err)
    return out


def _raise_for(result: ApplyResult, device: VoiceDevice) -> None:
    """Turn a failed or queued write into the VoiceError the assistants understand."""
    if result.status is ApplyStatus.SUCCESS:
        return
    if result.status is ApplyStatus.QUEUED:
        raise EndpointUnreachable(
            f"the hub of {device.name} went offline; the command waits in the relay until it "
            "reconnects"
        )
    reason = result.reason or "the hub refused the command"
    errors: dict[ApplyFailure | None, type[VoiceError]] = {
        ApplyFailure.NOT_FOUND: NoSuchEndpoint,
        ApplyFailure.INVALID: InvalidValue,
        ApplyFailure.OFFLINE: EndpointUnreachable,
        ApplyFailure.BUSY: EndpointBusy,
    }
    raise errors.get(result.failure, InternalError)(reason)


async def _apply(backend: VoiceBackend, account: str, device: VoiceDevice,
                 changes: Mapping[str, Any], key: str) -> ApplyResult:
    if not device.reachable:
        what = "hub" if not device.hub_online else "device"
        raise EndpointUnreachable(f"the {what} of {device.name} is offline; try again later")
    return await backend.apply(account, device.hub_id, device.id, changes, key)


# ---------------------------------------------------------------------------- Alexa
async def handle_alexa(
    directive: Mapping[str, Any],
    account: str,
    backend: VoiceBackend,
    reports: ChangeReportSender | None = None,
) -> Json:
    """Answer one Alexa directive for `account` (Discover, AcceptGrant, ReportState, control)."""
    header = alexa.directive_header(directive)
    namespace, name = header.get("namespace"), header.get("name")
    try:
        if header.get("payloadVersion") != alexa.PAYLOAD_VERSION:
            raise InvalidDirective("homehub speaks Alexa Smart Home payload version 3 only")
        if (namespace, name) == ("Alexa.Discovery", "Discover"):
            return alexa.discover_response(await account_devices(backend, account))
        if (namespace, name) == ("Alexa.Authorization", "AcceptGrant"):
            grant = alexa.directive_payload(directive).get("grant")
            code = grant.get("code") if isinstance(grant, Mapping) else None
            if not isinstance(code, str) or not code:
                return alexa.accept_grant_failed(directive, "the directive carries no grant code")
            if await (reports or _DEFAULT_REPORTS).accept_grant(account, code):
                return alexa.accept_grant_response()
            return alexa.accept_grant_failed(directive, "the grant could not be stored")
        is_report = (namespace, name) == ("Alexa", "ReportState")
        if not is_report and (namespace, name) not in alexa_directives.CONTROL:
            raise InvalidDirective(f"{namespace}.{name} is not supported by homehub")
        endpoint = alexa.directive_endpoint(directive).get("endpointId")
        if not isinstance(endpoint, str):
            raise InvalidDirective("the directive names no endpoint")
        device = find_device(await account_devices(backend, account), endpoint)
        if is_report:
            return alexa.state_report(directive, device)
        changes = alexa_directives.directive_changes(directive, device)
        key = f"alexa:{header.get('messageId') or alexa.new_message_id()}"
        _raise_for(await _apply(backend, account, device, changes, key), device)
        return alexa.response(directive, device.with_values(changes))
    except VoiceError as err:
        return alexa.error_response(directive, err)


# ---------------------------------------------------------------------------- Google
async def handle_google(body: Mapping[str, Any], account: str, backend: VoiceBackend) -> Json:
    """Answer one Google Smart Home fulfillment request (SYNC, QUERY, EXECUTE, DISCONNECT)."""
    request_id = str(body.get("requestId", ""))
    inputs = body.get("inputs")
    first = inputs[0] if isinstance(inputs, list) and inputs else None
    intent = first.get("intent") if isinstance(first, Mapping) else None
    payload = first.get("payload") if isinstance(first, Mapping) else None
    payload = payload if isinstance(payload, Mapping) else {}
    if intent == "action.devices.SYNC":
        devices = await account_devices(backend, account)
        return google.sync_response(request_id, account, devices)
    if intent == "action.devices.QUERY":
        return await _google_query(request_id, payload, account, backend)
    if intent == "action.devices.EXECUTE":
        return await _google_execute(request_id, payload, account, backend)
    if intent == "action.devices.DISCONNECT":
        return {}
    return google.error_response(request_id, "protocolError", f"unknown intent {intent!r}")


def _lookup(devices: Sequence[VoiceDevice], endpoint: Any) -> VoiceDevice | None:
    try:
        return find_device(devices, str(endpoint))
    except NoSuchEndpoint:
        return None


async def _google_query(request_id: str, payload: Mapping[str, Any], account: str,
                        backend: VoiceBackend) -> Json:
    devices = await account_devices(backend, account)
    answers: Json = {}
    for item in payload.get("devices") or ():
        if isinstance(item, Mapping) and "id" in item:
            answers[str(item["id"])] = google.query_state(_lookup(devices, item["id"]))
    return {"requestId": request_id, "payload": {"devices": answers}}


async def _google_execute(request_id: str, payload: Mapping[str, Any], account: str,
                          backend: VoiceBackend) -> Json:
    devices = await account_devices(backend, account)
    results: list[Json] = []
    for index, command in enumerate(payload.get("commands") or ()):
        if not isinstance(command, Mapping):
            continue
        executions = [e for e in command.get("execution") or () if isinstance(e, Mapping)]
        for item in command.get("devices") or ():
            endpoint = str(item.get("id")) if isinstance(item, Mapping) else ""
            device = _lookup(devices, endpoint)
            if device is None:
                results.append(google.execute_entry([endpoint], "ERROR",
                                                    error_code="deviceNotFound"))
                continue
            key = f"google:{request_id}:{index}:{endpoint}"
            results.append(await _execute_one(account, backend, device, executions, key))
    return {"requestId": request_id, "payload": {"commands": results}}


async def _execute_one(account: str, backend: VoiceBackend, device: VoiceDevice,
                       executions: Sequence[Mapping[str, Any]], key: str) -> Json:
    ids = [device.endpoint_id]
    try:
        changes: dict[str, Any] = {}
        for execution in executions:
            params = execution.get("params")
            current = device.with_values(changes)
            changes.update(google.execution_changes(
                str(execution.get("command", "")),
                params if isinstance(params, Mapping) else {},
                current,
            ))
        if not changes:
            raise InvalidDirective("the command carries no execution")
        result = await _apply(backend, account, device, changes, key)
    except EndpointUnreachable:
        return google.execute_entry(ids, "OFFLINE", error_code="deviceOffline")
    except VoiceError as err:
        return google.execute_entry(ids, "ERROR", error_code=err.google_code)
    after = google.states(device.with_values(changes))
    if result.status is ApplyStatus.QUEUED:
        return google.execute_entry(ids, "PENDING", states_=after)
    try:
        _raise_for(result, device)
    except EndpointUnreachable:
        return google.execute_entry(ids, "OFFLINE", error_code="deviceOffline")
    except VoiceError as err:
        return google.execute_entry(ids, "ERROR", error_code=err.google_code)
    return google.execute_entry(ids, "SUCCESS", states_=after)


def is_disconnect(body: Mapping[str, Any]) -> bool:
    """Is this Google request the user unlinking (the webhook then revokes their tokens)?"""
    inputs = body.get("inputs")
    return (isinstance(inputs, list) and bool(inputs) and isinstance(inputs[0], Mapping)
            and inputs[0].get("intent") == "action.devices.DISCONNECT")
