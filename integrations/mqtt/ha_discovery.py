"""The hub's devices as Home Assistant MQTT discovery entities (pure, no I/O).

Home Assistant reads retained `<prefix>/<component>/<node_id>/<object_id>/config` messages
(JSON with `name`, `unique_id`, `device`, `availability`, state and command topics) and shows
one entity per message; an empty retained config deletes it. Each hub device becomes a group
of entities sharing one `device` block:
- `power` + `mode` (an air conditioner) -> one `climate` (modes off/auto/cool/heat/dry/fan_only,
  target and current temperature, fan modes),
- `power` + `brightness` -> one `light` (brightness 0-100, colour temperature in kelvin),
- other writable on/off -> `switch`, writable choices -> `select`, writable numbers -> `number`,
- readings -> `sensor` / `binary_sensor` with device classes and units,
- IR commands -> one `button` per command.
Every property has a plain state topic `<base>/<device>/<property>` (retained) and, when
writable, a command topic `<base>/<device>/<property>/set`, so no templates are needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.model import PropertySpec, ValueType
from integrations.mqtt.errors import PayloadError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
HVAC = "hvac_mode"  # the derived climate mode topic: off, or the mode while on
COMMAND = "command"  # IR button presses
TO_HA_MODE = {"auto": "auto", "cool": "cool", "heat": "heat", "dry": "dry", "fan": "fan_only"}
FROM_HA_MODE = {ha: hub for hub, ha in TO_HA_MODE.items()}
SENSOR_CLASSES = {
    "temperature": ("temperature", "measurement"), "humidity": ("humidity", "measurement"),
    "illuminance": ("illuminance", "measurement"), "power_w": ("power", "measurement"),
    "energy_kwh": ("energy", "total_increasing"),
    "energy_export_kwh": ("energy", "total_increasing"),
    "battery_soc": ("battery", "measurement"), "rssi": ("signal_strength", "measurement"),
    "tank_litres": ("volume_storage", "measurement"),
}
BINARY_CLASSES = {"motion": "motion", "contact": "door", "hot_water_supply": "running"}


def safe(text: str) -> str:
    """Topic- and id-safe text (HA allows [a-zA-Z0-9_-] in node and object ids)."""
    return _UNSAFE.sub("_", text).strip("_") or "x"


@dataclass(frozen=True, slots=True)
class ExportedDevice:
    """What the export needs to know about one hub device."""

    id: str
    name: str
    integration: str
    properties: Mapping[str, PropertySpec]
    room: str | None = None
    model: str = ""
    manufacturer: str = ""
    online: bool = True
    reported: Mapping[str, Any] = field(default_factory=dict)
    pending: Mapping[str, Any] = field(default_factory=dict)  # desired, not yet confirmed


@dataclass(frozen=True, slots=True)
class Entity:
    """One discovery message."""

    component: str
    object_id: str
    config: dict[str, Any]


def base_of(base_topic: str, device_id: str) -> str:
    """The topic folder of one device."""
    return f"{base_topic}/{safe(device_id)}"


def render(spec: PropertySpec, value: Any) -> str:
    """A property value as a state payload."""
    if spec.type is ValueType.BOOL:
        return "ON" if value else "OFF"
    if spec.type is ValueType.FLOAT and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if spec.type is ValueType.LIST:
        return ",".join(str(v) for v in value)
    return str(value)


def state_payloads(device: ExportedDevice, base_topic: str) -> dict[str, str]:
    """Every state topic of a device and its payload now (reported values only)."""
    base = base_of(base_topic, device.id)
    out: dict[str, str] = {}
    for name, value in device.reported.items():
        spec = device.properties.get(name)
        if spec is not None and value is not None:
            out[f"{base}/{name}"] = render(spec, value)
    if _is_climate(device.properties) and "power" in device.reported:
        mode = device.reported.get("mode")
        out[f"{base}/{HVAC}"] = (TO_HA_MODE.get(str(mode), "auto")
                                 if device.reported["power"] else "off")
    return out


def parse_command(device: ExportedDevice, prop: str, payload: bytes) -> dict[str, Any]:
    """Hub values from a command payload; PayloadError says what is wrong."""
    text = payload.decode("utf-8", "replace").strip()
    if prop == HVAC:
        if text == "off":
            return {"power": False}
        mode = FROM_HA_MODE.get(text)
        if mode is None:
            raise PayloadError(f"unknown mode {text!r} for {device.name}")
        return {"power": True, "mode": mode}
    spec = device.properties.get(prop)
    if spec is None or not spec.writable:
        raise PayloadError(f"{device.name} has no settable property {prop!r}")
    if spec.type is ValueType.BOOL:
        if text.upper() not in ("ON", "OFF", "TRUE", "FALSE"):
            raise PayloadError(f"{prop} takes ON or OFF, got {text[:20]!r}")
        return {prop: text.upper() in ("ON", "TRUE")}
    if spec.type in (ValueType.INT, ValueType.FLOAT):
        try:
            number = float(text)
        except ValueError:
            raise PayloadError(f"{prop} takes a number, got {text[:20]!r}") from None
        if spec.type is ValueType.INT and number.is_integer():
            return {prop: int(number)}
        return {prop: number}
    return {prop: text}


def _is_climate(props: Mapping[str, PropertySpec]) -> bool:
    return "mode" in props and "power" in props and props["mode"].writable


def _device_block(device: ExportedDevice) -> dict[str, Any]:
    block: dict[str, Any] = {"identifiers": [f"homehub_{safe(device.id)}"],
                             "name": device.name}
    if device.manufacturer:
        block["manufacturer"] = device.manufacturer
    if device.model:
        block["model"] = device.model
    if device.room:
        block["suggested_area"] = device.room
    return block


def entities(device: ExportedDevice, base_topic: str, version: str = "") -> list[Entity]:
    """The discovery messages of one device."""
    base = base_of(base_topic, device.id)
    props = dict(device.properties)
    common = {
        "device": _device_block(device),
        "availability": [{"topic": f"{base_topic}/status"}, {"topic": f"{base}/availability"}],
        "availability_mode": "all",
        "origin": {"name": "homehub", "sw": version} if version else {"name": "homehub"},
    }
    out: list[Entity] = []

    def add(component: str, key: str, name: str | None, config: dict[str, Any]) -> None:
        object_id = f"{safe(device.id)}_{safe(key)}"
        out.append(Entity(component, object_id, {
            "name": name, "unique_id": f"homehub_{object_id}", **common, **config}))

    if _is_climate(props):
        mode = props.pop("mode")
        props.pop("power")
        modes = ["off", *(TO_HA_MODE[m] for m in mode.choices or () if m in TO_HA_MODE)]
        config: dict[str, Any] = {"modes": modes, "mode_state_topic": f"{base}/{HVAC}",
                                  "mode_command_topic": f"{base}/{HVAC}/set",
                                  "temperature_unit": "C", "precision": 0.5}
        target = props.pop("target_temperature", None)
        if target is not None and target.writable:
            config.update(temperature_state_topic=f"{base}/target_temperature",
                          temperature_command_topic=f"{base}/target_temperature/set",
                          min_temp=target.minimum, max_temp=target.maximum,
                          temp_step=target.step or 1)
        current = props.pop("temperature", None)
        if current is not None:
            config["current_temperature_topic"] = f"{base}/temperature"
        fan = props.pop("fan_speed", None)
        if fan is not None and fan.writable:
            config.update(fan_modes=list(fan.choices or ()),
                          fan_mode_state_topic=f"{base}/fan_speed",
                          fan_mode_command_topic=f"{base}/fan_speed/set")
        add("climate", "climate", None, config)
    light = props.get("power") is not None and "brightness" in props and (
        props["brightness"].writable)
    if light:
        props.pop("power")
        brightness = props.pop("brightness")
        config = {"command_topic": f"{base}/power/set", "state_topic": f"{base}/power",
                  "payload_on": "ON", "payload_off": "OFF",
                  "brightness_command_topic": f"{base}/brightness/set",
                  "brightness_state_topic": f"{base}/brightness",
                  "brightness_scale": int(brightness.maximum or 100),
                  "on_command_type": "last"}
        ct = props.pop("colour_temp", None)
        if ct is not None and ct.writable:
            config.update(color_temp_kelvin=True,
                          color_temp_command_topic=f"{base}/colour_temp/set",
                          color_temp_state_topic=f"{base}/colour_temp",
                          min_kelvin=int(ct.minimum or 2000), max_kelvin=int(ct.maximum or 6500))
        add("light", "light", None, config)
    for name, spec in props.items():
        label = None if name == "power" else name.replace("_", " ").replace(".", " ")
        state = f"{base}/{name}"
        if spec.writable and spec.type is ValueType.BOOL:
            add("switch", name, label, {"command_topic": f"{state}/set", "state_topic": state,
                                        "payload_on": "ON", "payload_off": "OFF"})
        elif spec.writable and spec.type is ValueType.ENUM:
            add("select", name, label, {"command_topic": f"{state}/set", "state_topic": state,
                                        "options": list(spec.choices or ())})
        elif spec.writable and spec.type in (ValueType.INT, ValueType.FLOAT):
            config = {"command_topic": f"{state}/set", "state_topic": state,
                      "step": spec.step or (1 if spec.type is ValueType.INT else 0.1)}
            if spec.minimum is not None:
                config["min"] = spec.minimum
            if spec.maximum is not None:
                config["max"] = spec.maximum
            if spec.unit:
                config["unit_of_measurement"] = spec.unit
            add("number", name, label, config)
        elif spec.type is ValueType.BOOL:
            base_name = name.split(".", 1)[0]
            config = {"state_topic": state, "payload_on": "ON", "payload_off": "OFF"}
            if base_name == "contact":  # true is closed; a door sensor's "on" is open
                config.update(payload_on="OFF", payload_off="ON")
            if base_name in BINARY_CLASSES:
                config["device_class"] = BINARY_CLASSES[base_name]
            add("binary_sensor", name, label, config)
        elif spec.type in (ValueType.INT, ValueType.FLOAT):
            config = {"state_topic": state}
            if spec.unit:
                config["unit_of_measurement"] = spec.unit
            classes = SENSOR_CLASSES.get(name.split(".", 1)[0])
            if classes is not None:
                config.update(device_class=classes[0], state_class=classes[1])
            add("sensor", name, label, config)
        elif name == "ir_commands":
            for command in device.reported.get("ir_commands") or ():
                add("button", f"{COMMAND}_{command}", str(command).replace("_", " "),
                    {"command_topic": f"{base}/{COMMAND}/set", "payload_press": str(command)})
        # raw.* texts stay on the hub: they mean nothing to a dashboard.
    return out


def config_topic(prefix: str, node_id: str, entity: Entity) -> str:
    """`homeassistant/climate/homehub/<object_id>/config`."""
    return f"{prefix}/{entity.component}/{safe(node_id)}/{entity.object_id}/config"
