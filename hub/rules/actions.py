"""What each action does (everything but `delay` and `wait`, which pause the run: waits.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import NotFound
from hub.events import NamedEvent
from hub.rules.model import (
    Action,
    CommandAction,
    EventAction,
    NotifyAction,
    RemindAction,
    Rule,
    SceneAction,
    SetAction,
)
from hub.rules.notify import Notice, Notifier
from hub.rules.reminders import Reminders
from hub.rules.state import Run

if TYPE_CHECKING:
    from hub.app import Hub

Scenes = dict[str, dict[str, dict[str, Any]]]


class Actions:
    """Carries out actions against the hub: events, desired values, commands, scenes, notices."""

    def __init__(
        self,
        hub: Hub,
        scenes: Scenes,
        notifier: Notifier,
        reminders: Reminders,
    ) -> None:
        self.hub = hub
        self._bus, self._now = hub.bus, hub.clock.now  # fire_event runs on every event action
        self.scenes = scenes
        self.notifier = notifier
        self.reminders = reminders

    async def act(self, rule: Rule, action: Action, index: int, run: Run) -> Any:
        """Do one action; the result goes into the run's trace."""
        hub = self.hub
        if isinstance(action, EventAction):
            return self.fire_event(action)
        if isinstance(action, SetAction):
            ack = await hub.registry.write_desired(action.device, action.values, ttl_s=action.ttl)
            return {"command_id": ack.command_id}
        if isinstance(action, CommandAction):
            ack = await hub.registry.send_command(action.device, action.command, action.params)
            return {"command_id": ack.command_id}
        if isinstance(action, SceneAction):
            return await self.run_scene(action.scene)
        if isinstance(action, NotifyAction):
            notice = Notice(hub.clock.now(), rule.id, action.message, action.title)
            return await self.notifier.send(notice)
        if isinstance(action, RemindAction):
            return await self.reminders.start(rule, action, index, run)
        raise TypeError(f"unknown action {action!r}")

    def fire_event(self, action: EventAction) -> str:
        """Publish the action's named event on the hub's bus."""
        return self.fire_named(action.name, action.data)

    def fire_named(self, name: str, data: dict[str, Any]) -> str:
        """Publish a named event on the hub's bus (an `event` action's step result)."""
        self._bus.publish(NamedEvent(self._now(), name, data))
        return "fired"

    async def run_scene(self, name: str) -> dict[str, Any]:
        """Apply a stored scene; returns the command id per device."""
        scene = self.scenes.get(name)
        if scene is None:
            raise NotFound(f"no scene {name!r}; PUT /api/v1/scenes/{name} creates it")
        out = {}
        for device, values in scene.items():
            ack = await self.hub.registry.write_desired(device, values)
            out[device] = ack.command_id
        return out
