"""A minimal Home Assistant MQTT discovery consumer, written from HA's documented format.

It subscribes to `<prefix>/#`, keeps every retained `<prefix>/<component>/[<node_id>/]
<object_id>/config` (an empty payload deletes the entity), expands the documented `~` base and
the abbreviations it needs, tracks availability (all topics must say `payload_available`) and
state topics, and sends commands the way HA's climate/switch/light entities do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from integrations.mqtt.link import cancel_to_end

# A few of HA's documented abbreviations (homeassistant/components/mqtt/abbreviations.py).
ABBREVIATIONS = {
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "cmd_t": "command_topic", "stat_t": "state_topic", "dev": "device", "uniq_id": "unique_id",
    "mode_cmd_t": "mode_command_topic", "mode_stat_t": "mode_state_topic",
    "temp_cmd_t": "temperature_command_topic", "temp_stat_t": "temperature_state_topic",
    "curr_temp_t": "current_temperature_topic", "pl_on": "payload_on", "pl_off": "payload_off",
    "pl_avail": "payload_available", "pl_not_avail": "payload_not_available", "t": "topic",
    "ids": "identifiers", "o": "origin",
}


def expand(config: dict[str, Any]) -> dict[str, Any]:
    """Abbreviations -> full keys; `~` prefixes topic values that start or end with it."""
    base = config.get("~")
    out: dict[str, Any] = {}
    for key, value in config.items():
        key = ABBREVIATIONS.get(key, key)
        if isinstance(value, dict):
            value = {ABBREVIATIONS.get(k, k): v for k, v in value.items()}
        if isinstance(value, list):
            value = [expand({**item, **({"~": base} if base else {})})
                     if isinstance(item, dict) else item for item in value]
        if base and isinstance(value, str) and key.endswith("topic"):
            value = value.replace("~", base) if value.startswith("~") or value.endswith(
                "~") else value
        out[key] = value
    out.pop("~", None)
    return out


@dataclass
class Entity:
    """One discovered entity."""

    component: str
    object_id: str
    config: dict[str, Any]

    @property
    def device_name(self) -> str:
        """The `device.name` it belongs to."""
        return str(self.config.get("device", {}).get("name", ""))

    def availability_topics(self) -> list[tuple[str, str]]:
        """(topic, payload_available) pairs."""
        items = self.config.get("availability") or []
        if "availability_topic" in self.config:
            items = [{"topic": self.config["availability_topic"]}]
        return [(i["topic"], i.get("payload_available", self.config.get(
            "payload_available", "online"))) for i in items]


@dataclass
class HaConsumer:
    """Discovery + states on one connection."""

    host: str
    port: int
    prefix: str = "homeassistant"
    entities: dict[str, Entity] = field(default_factory=dict)  # by config topic
    states: dict[str, str] = field(default_factory=dict)  # topic -> last payload
    _client: aiomqtt.Client | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and listen to discovery (and, as entities appear, to their topics)."""
        self._client = aiomqtt.Client(self.host, self.port, identifier="ha-consumer-test")
        await self._client.__aenter__()
        await self._client.subscribe(f"{self.prefix}/#", qos=1)
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        """Disconnect."""
        task, self._task = self._task, None
        if task is not None:
            # Not a single cancel: the listener subscribes as entities appear, and a cancel
            # that met the SUBACK was swallowed (Python 3.11's wait_for), so stop() hung.
            assert await cancel_to_end(task), "the consumer's listener did not stop"
            if not task.cancelled():
                task.exception()  # retrieved: an MqttError when the broker went away first
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.__aexit__(None, None, None)

    async def _listen(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            topic = str(message.topic)
            payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) \
                else str(message.payload).encode()
            parts = topic[len(self.prefix) + 1:].split("/")
            if topic.startswith(self.prefix + "/") and parts[-1] == "config" and len(parts) in (
                    3, 4):
                if not payload:
                    self.entities.pop(topic, None)
                    continue
                config = expand(json.loads(payload))
                self.entities[topic] = Entity(parts[0], parts[-2], config)
                for key, value in config.items():
                    if key.endswith("state_topic") or key == "current_temperature_topic":
                        await self._client.subscribe(value, qos=1)
                for avail_topic, _ in self.entities[topic].availability_topics():
                    await self._client.subscribe(avail_topic, qos=1)
            else:
                self.states[topic] = payload.decode()

    def find(self, component: str, device_name: str) -> Entity | None:
        """The entity of a component for a device, by the device's name."""
        return next((e for e in self.entities.values() if e.component == component
                     and e.device_name == device_name), None)

    def available(self, entity: Entity) -> bool:
        """availability_mode "all": every availability topic says available."""
        return all(self.states.get(t) == ok for t, ok in entity.availability_topics())

    def state(self, entity: Entity, key: str) -> str | None:
        """The last payload on one of the entity's state topics (`mode_state_topic` ...)."""
        topic = entity.config.get(key)
        return self.states.get(topic) if topic else None

    async def command(self, entity: Entity, key: str, payload: str) -> None:
        """Publish to one of the entity's command topics, as HA does (QoS 0, not retained)."""
        assert self._client is not None
        await self._client.publish(entity.config[key], payload, qos=0, retain=False)
