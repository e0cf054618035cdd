"""The entities an emulated ESPHome device exposes, and their list/state messages."""

from __future__ import annotations

import enum
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from integrations.esphome.messages import pb


class EntityKind(enum.StrEnum):
    """ESPHome entity platforms the emulator implements."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    SWITCH = "switch"
    LIGHT = "light"
    FAN = "fan"
    CLIMATE = "climate"
    INFRARED = "infrared"  # an IR transmitter and/or receiver (ESPHome `infrared:`)


IR_TRANSMITTER = 1  # InfraredCapability bits of ListEntitiesInfraredResponse.capabilities
IR_RECEIVER = 2


@dataclass(frozen=True, slots=True)
class EmulatedEntity:
    """One entity: kind, ids and the metadata ESPHome lists for it."""

    kind: EntityKind
    object_id: str
    name: str
    device_class: str = ""
    unit: str = ""
    accuracy_decimals: int = 1
    speed_count: int = 3  # fans
    climate_modes: tuple[int, ...] = (0, 2, 3, 6)  # off, cool, heat, auto (ClimateMode numbers)
    min_temperature: float = 16.0
    max_temperature: float = 30.0
    ir_capabilities: int = IR_TRANSMITTER | IR_RECEIVER  # infrared
    receiver_frequency: int = 38_000  # infrared: the receiver's demodulator, Hz

    @property
    def has_state(self) -> bool:
        """Infrared entities stream no state, only receive events."""
        return self.kind is not EntityKind.INFRARED

    @property
    def key(self) -> int:
        """ESPHome keys are a hash of the object id; any stable 32-bit value works."""
        return zlib.crc32(f"{self.kind}.{self.object_id}".encode())

    def list_message(self) -> Message:
        """The ListEntities*Response describing this entity."""
        common: dict[str, Any] = {"object_id": self.object_id, "key": self.key, "name": self.name}
        if self.kind is EntityKind.SENSOR:
            return pb.ListEntitiesSensorResponse(  # type: ignore[no-any-return]
                **common, unit_of_measurement=self.unit, device_class=self.device_class,
                accuracy_decimals=self.accuracy_decimals, state_class=1,
            )
        if self.kind is EntityKind.BINARY_SENSOR:
            return pb.ListEntitiesBinarySensorResponse(  # type: ignore[no-any-return]
                **common, device_class=self.device_class
            )
        if self.kind is EntityKind.SWITCH:
            return pb.ListEntitiesSwitchResponse(  # type: ignore[no-any-return]
                **common, device_class=self.device_class
            )
        if self.kind is EntityKind.LIGHT:
            # 3 = ColorMode.BRIGHTNESS: on/off plus a level, the common dimmer
            return pb.ListEntitiesLightResponse(  # type: ignore[no-any-return]
                **common, supported_color_modes=[3]
            )
        if self.kind is EntityKind.FAN:
            return pb.ListEntitiesFanResponse(  # type: ignore[no-any-return]
                **common, supports_speed=True, supported_speed_count=self.speed_count
            )
        if self.kind is EntityKind.INFRARED:
            receives = bool(self.ir_capabilities & IR_RECEIVER)
            return pb.ListEntitiesInfraredResponse(  # type: ignore[no-any-return]
                **common, capabilities=self.ir_capabilities,
                receiver_frequency=self.receiver_frequency if receives else 0,
            )
        return pb.ListEntitiesClimateResponse(  # type: ignore[no-any-return]
            **common, supports_current_temperature=True, supported_modes=list(self.climate_modes),
            visual_min_temperature=self.min_temperature,
            visual_max_temperature=self.max_temperature, visual_target_temperature_step=0.5,
            feature_flags=1,  # ClimateFeature.SUPPORTS_CURRENT_TEMPERATURE
        )

    def initial_state(self) -> dict[str, Any]:
        """The state an entity starts with."""
        if self.kind is EntityKind.SENSOR:
            return {"state": 0.0}
        if self.kind in (EntityKind.BINARY_SENSOR, EntityKind.SWITCH):
            return {"state": False}
        if self.kind is EntityKind.LIGHT:
            return {"state": False, "brightness": 1.0}
        if self.kind is EntityKind.FAN:
            return {"state": False, "speed_level": 1}
        if self.kind is EntityKind.INFRARED:
            return {}
        return {"mode": 0, "target_temperature": 22.0, "current_temperature": 22.0}

    def state_message(self, state: dict[str, Any]) -> Message:
        """The *StateResponse carrying a state."""
        if self.kind is EntityKind.SENSOR:
            return pb.SensorStateResponse(key=self.key, state=state["state"])  # type: ignore[no-any-return]
        if self.kind is EntityKind.BINARY_SENSOR:
            return pb.BinarySensorStateResponse(key=self.key, state=state["state"])  # type: ignore[no-any-return]
        if self.kind is EntityKind.SWITCH:
            return pb.SwitchStateResponse(key=self.key, state=state["state"])  # type: ignore[no-any-return]
        if self.kind is EntityKind.LIGHT:
            return pb.LightStateResponse(  # type: ignore[no-any-return]
                key=self.key, state=state["state"], brightness=state["brightness"], color_mode=3
            )
        if self.kind is EntityKind.FAN:
            return pb.FanStateResponse(  # type: ignore[no-any-return]
                key=self.key, state=state["state"], speed_level=state["speed_level"]
            )
        return pb.ClimateStateResponse(  # type: ignore[no-any-return]
            key=self.key, mode=state["mode"], target_temperature=state["target_temperature"],
            current_temperature=state["current_temperature"],
        )


@dataclass(frozen=True, slots=True)
class EntitySet:
    """The entities of one emulated device, in listing order."""

    entities: Sequence[EmulatedEntity] = field(default_factory=tuple)

    def by_key(self, key: int) -> EmulatedEntity | None:
        """The entity with a key."""
        return next((e for e in self.entities if e.key == key), None)

    def by_object_id(self, object_id: str) -> EmulatedEntity:
        """The entity with an object id; KeyError naming the known ones otherwise."""
        for e in self.entities:
            if e.object_id == object_id:
                return e
        known = ", ".join(e.object_id for e in self.entities)
        raise KeyError(f"no entity {object_id!r}; this device has: {known}")


def default_entities() -> EntitySet:
    """A typical hobbyist node: climate sensor, motion, relay, dimmable lamp, fan, thermostat."""
    k = EntityKind
    return EntitySet((
        EmulatedEntity(k.SENSOR, "temperature", "Temperature", "temperature", "°C"),
        EmulatedEntity(k.SENSOR, "humidity", "Humidity", "humidity", "%"),
        EmulatedEntity(k.BINARY_SENSOR, "motion", "Motion", "motion"),
        EmulatedEntity(k.SWITCH, "relay", "Relay", "outlet"),
        EmulatedEntity(k.LIGHT, "lamp", "Lamp"),
        EmulatedEntity(k.FAN, "fan", "Fan"),
        EmulatedEntity(k.CLIMATE, "thermostat", "Thermostat"),
    ))


def sensor_only_entities() -> EntitySet:
    """A temperature/humidity sensor with a relay switch (the demo's kitchen node)."""
    k = EntityKind
    return EntitySet((
        EmulatedEntity(k.SENSOR, "temperature", "Temperature", "temperature", "°C"),
        EmulatedEntity(k.SENSOR, "humidity", "Humidity", "humidity", "%"),
        EmulatedEntity(k.SWITCH, "relay", "Relay", "outlet"),
    ))


def ir_blaster_entities(capabilities: int = IR_TRANSMITTER | IR_RECEIVER) -> EntitySet:
    """An IR blaster node (ESPHome `infrared:` with transmitter and receiver) with a thermometer."""
    k = EntityKind
    return EntitySet((
        EmulatedEntity(k.SENSOR, "temperature", "Temperature", "temperature", "°C"),
        EmulatedEntity(k.INFRARED, "ir", "IR blaster", ir_capabilities=capabilities),
    ))
