"""Proactive Alexa ChangeReports from the hubs' state changes.

The pump watches the hubs of accounts that talk to Alexa (the webhook calls `watch`) and turns
each `state_changed` event into a ChangeReport for every such account that claimed the hub and
granted event access (the sender has a token for it). One subscription per watched hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from relay.routing import Routing
from relay.voice import alexa
from relay.voice.backend import VoiceBackend
from relay.voice.change_reports import ChangeReportSender
from relay.voice.dispatch import account_devices

_LOG = logging.getLogger(__name__)


class ChangeReportPump:
    """hub events -> ChangeReports through a ChangeReportSender."""

    def __init__(self, routing: Routing, backend: VoiceBackend, sender: ChangeReportSender) -> None:
        self.routing = routing
        self.backend = backend
        self.sender = sender
        self._accounts: dict[str, set[str]] = {}  # hub id -> accounts watching it
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def watch(self, account: str, hub_ids: Iterable[str]) -> None:
        """Report changes of these hubs to this account (idempotent)."""
        for hub_id in hub_ids:
            self._accounts.setdefault(hub_id, set()).add(account)
            if hub_id not in self._tasks:
                self._tasks[hub_id] = asyncio.create_task(
                    self._run(hub_id), name=f"voice-reports-{hub_id}"
                )

    async def stop(self) -> None:
        """Stop every subscription."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, hub_id: str) -> None:
        sub = self.routing.subscribe(hub_id)
        try:
            while True:
                event = await sub.get()
                if event.get("type") != "state_changed":
                    continue
                try:
                    await self._report(hub_id, event)
                except Exception:
                    # One bad event or a failing gateway must not end the hub's reports.
                    _LOG.exception("could not report a change of hub %s to Alexa", hub_id)
        finally:
            sub.close()

    async def _report(self, hub_id: str, event: Mapping[str, Any]) -> None:
        device_id, changes = event.get("device"), event.get("changes")
        if not isinstance(device_id, str) or not isinstance(changes, Mapping) or not changes:
            return
        for account in sorted(self._accounts.get(hub_id, ())):
            token = await self.sender.event_token(account)
            if token is None:
                continue
            # Looked up through the account each time: an unclaimed hub stops reporting at once.
            device = next((d for d in await account_devices(self.backend, account)
                           if d.hub_id == hub_id and d.id == device_id), None)
            if device is None:
                continue
            message = alexa.change_report(device.with_values(changes), list(changes), token)
            if message is not None:
                await self.sender.send(account, message)
