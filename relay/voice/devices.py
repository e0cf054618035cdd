"""A read-only view of one cached device (the hub API's device JSON) for the voice skills.

Endpoint ids join the relay's hub id and the hub's device id. Alexa allows neither `.` nor
`/` in an endpoint id, and device ids never contain `=`, so `.` is written as `=` (reversible).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relay.voice.errors import NoSuchEndpoint, TemperatureOutOfRange, ThermostatIsOff

SEPARATOR = ":"


def endpoint_id(hub_id: str, device_id: str) -> str:
    """The id both assistants use for a device: `hub:device` with `.` as `=`."""
    return f"{hub_id}{SEPARATOR}{device_id}".replace(".", "=")


def split_endpoint_id(value: str) -> tuple[str, str]:
    """Inverse of endpoint_id; NoSuchEndpoint if it is not one of ours."""
    hub_id, sep, device_id = value.replace("=", ".").partition(SEPARATOR)
    if not sep or not hub_id or not device_id:
        raise NoSuchEndpoint(f"{value!r} is not a homehub endpoint; discover devices again")
    return hub_id, device_id


@dataclass(frozen=True, slots=True)
class Prop:
    """One property spec from the device JSON."""

    name: str
    type: str
    unit: str | None
    minimum: float | None
    maximum: float | None
    step: float | None
    choices: tuple[str, ...]
    writable: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prop:
        """Parse one entry of `properties`."""
        choices = data.get("choices") or ()
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "")),
            unit=data.get("unit"),
            minimum=_num(data.get("minimum")),
            maximum=_num(data.get("maximum")),
            step=_num(data.get("step")),
            choices=tuple(str(c) for c in choices),
            writable=bool(data.get("writable", False)),
        )


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class VoiceDevice:
    """A device of one hub, with the hub's online state, as the voice skills see it."""

    hub_id: str
    hub_online: bool
    id: str
    name: str
    room: str | None
    integration: str
    model: str
    manufacturer: str
    device_online: bool
    props: Mapping[str, Prop]
    reported: Mapping[str, Any]
    reported_ts: Mapping[str, float]

    @classmethod
    def from_json(cls, hub_id: str, hub_online: bool, data: Mapping[str, Any]) -> VoiceDevice:
        """Build from the cached device JSON (`properties`, `shadow.reported`)."""
        props = {}
        for raw in data.get("properties") or ():
            if isinstance(raw, Mapping) and "name" in raw:
                prop = Prop.from_json(raw)
                props[prop.name] = prop
        shadow = data.get("shadow") or {}
        reported: dict[str, Any] = {}
        stamps: dict[str, float] = {}
        for key, entry in (shadow.get("reported") or {}).items():
            if isinstance(entry, Mapping) and "value" in entry:
                reported[key] = entry["value"]
                ts = entry.get("ts")
                if isinstance(ts, int | float):
                    stamps[key] = float(ts)
        return cls(
            hub_id=hub_id,
            hub_online=hub_online,
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            room=data.get("room"),
            integration=str(data.get("integration") or "homehub"),
            model=str(data.get("model") or "device"),
            manufacturer=str(data.get("manufacturer") or data.get("integration") or "homehub"),
            device_online=bool(data.get("online", True)),
            props=props,
            reported=reported,
            reported_ts=stamps,
        )

    @property
    def endpoint_id(self) -> str:
        """The id the assistants use."""
        return endpoint_id(self.hub_id, self.id)

    @property
    def reachable(self) -> bool:
        """Both the hub and the device are online."""
        return self.hub_online and self.device_online

    def has(self, name: str, *, writable: bool = False) -> bool:
        """Does the device have this property (and may it be written)?"""
        prop = self.props.get(name)
        return prop is not None and (prop.writable or not writable)

    def value(self, name: str) -> Any:
        """The last reported value, or None."""
        return self.reported.get(name)

    def with_values(self, values: Mapping[str, Any]) -> VoiceDevice:
        """A copy whose reported values include `values` (the state right after a command)."""
        return VoiceDevice(
            self.hub_id, self.hub_online, self.id, self.name, self.room, self.integration,
            self.model, self.manufacturer, self.device_online, self.props,
            {**self.reported, **values}, self.reported_ts,
        )

    def last_seen(self) -> float | None:
        """When the newest reported value arrived."""
        return max(self.reported_ts.values(), default=None)


def find_device(devices: Sequence[VoiceDevice], endpoint: str) -> VoiceDevice:
    """The device with this endpoint id among the caller's; NoSuchEndpoint otherwise."""
    hub_id, device_id = split_endpoint_id(endpoint)
    for device in devices:
        if device.hub_id == hub_id and device.id == device_id:
            return device
    raise NoSuchEndpoint(f"no device {endpoint!r} in this account; discover devices again")


def set_point_change(device: VoiceDevice, celsius: float) -> dict[str, Any]:
    """A new set point on the device's step and in its range; refused while the unit is off."""
    prop = device.props["target_temperature"]
    low = prop.minimum if prop.minimum is not None else 0.0
    high = prop.maximum if prop.maximum is not None else 50.0
    step = prop.step or 0.5
    value = round(round(celsius / step) * step, 2)
    if not low <= value <= high:
        raise TemperatureOutOfRange(
            f"{device.name} takes {low:g} to {high:g} °C, not {value:g} °C",
            minimum=low, maximum=high,
        )
    if device.has("power", writable=True) and device.value("power") is False:
        # Setting a point on a unit that is off would do nothing the user notices.
        raise ThermostatIsOff(f"{device.name} is off; turn it on first")
    return {"target_temperature": value}
