"""The ChangeReport pump: hub state changes become Alexa ChangeReports for granted accounts."""

from __future__ import annotations

import time

from voice_testkit import HUB_A, HUB_B, FakeBackend, aircon, ep, eventually, light

from relay.routing import InProcessRouting
from relay.voice import LoggingChangeReportSender, RecordingChangeReportSender
from relay.voice.reporting import ChangeReportPump


def _event(device: str, **changes: object) -> dict[str, object]:
    return {"type": "state_changed", "ts": time.time(), "device": device, "changes": changes,
            "previous": {}, "version": 9}


async def test_state_changes_become_change_reports_for_granted_accounts() -> None:
    backend = FakeBackend()
    backend.add_hub("acct-a", HUB_A, [aircon(), light()])
    backend.add_hub("acct-b", HUB_B, [light("esphome-b-lamp")])
    backend.accounts["acct-c"] = [HUB_A]  # a second account on the same hub, without a grant
    routing = InProcessRouting()
    sender = RecordingChangeReportSender()
    await sender.accept_grant("acct-a", "code-a")
    pump = ChangeReportPump(routing, backend, sender)
    pump.watch("acct-a", [HUB_A])
    pump.watch("acct-c", [HUB_A])
    try:
        await eventually(lambda: routing._subs.get(HUB_A), what="subscription")
        routing.publish(HUB_A, {"type": "device_online", "device": "x"})  # ignored
        routing.publish(HUB_A, _event(aircon()["id"], power=False))
        routing.publish(HUB_A, _event(aircon()["id"], energy_kwh=3.0))  # nothing Alexa tracks
        routing.publish(HUB_A, _event(light()["id"], brightness=80))
        routing.publish(HUB_B, _event("esphome-b-lamp", power=True))  # not watched
        await eventually(lambda: len(sender.sent) >= 2, what="two reports")
        assert [a for a, _ in sender.sent] == ["acct-a", "acct-a"]
        first, second = (m for _, m in sender.sent)
        assert first["event"]["endpoint"] == {
            "scope": {"type": "BearerToken", "token": "event-token-acct-a"},
            "endpointId": ep(HUB_A, aircon())}
        changed = {p["name"]: p["value"] for p in first["event"]["payload"]["change"]["properties"]}
        assert changed == {"powerState": "OFF", "thermostatMode": "OFF"}
        assert second["event"]["payload"]["change"]["properties"][0]["value"] == 80
        # Once the hub leaves account A, its changes are no longer reported to A; account C,
        # granted now, gets them (events of a hub are handled in order, so C's report of the
        # last event means A's would have been sent before it).
        backend.accounts["acct-a"] = []
        await sender.accept_grant("acct-c", "code-c")
        routing.publish(HUB_A, _event(light()["id"], brightness=10))
        routing.publish(HUB_A, _event(aircon()["id"], power=True))
        await eventually(lambda: len(sender.sent) >= 4, what="account C's reports")
        assert [a for a, _ in sender.sent] == ["acct-a", "acct-a", "acct-c", "acct-c"]
    finally:
        await pump.stop()
    assert not routing._subs


async def test_the_logging_sender_builds_nothing() -> None:
    sender = LoggingChangeReportSender()
    assert await sender.accept_grant("acct-a", "code") is True
    assert await sender.event_token("acct-a") is None
