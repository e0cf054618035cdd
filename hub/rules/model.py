"""Rule definitions: triggers, conditions and actions as validated, immutable models.

The same models validate API bodies and YAML files and generate the OpenAPI schema. A rule::

    id: heater_left_on
    name: Bathroom heater left on
    mode: single                 # single | restart | queued | parallel
    max_runs: 10                 # queued/parallel limit
    missed: fire_once            # a deadline that passed while the hub was down: fire_once | skip
    triggers:
      - {type: state, device: virtual-heater, property: power, to: true, for: 10m}
    conditions:
      - {type: presence, state: everyone_away}
    actions:
      - {type: set, device: virtual-heater, values: {power: false}}
      - {type: wait, until: {type: state, device: virtual-heater, property: power, is: false},
         timeout: 2m, on_timeout: continue}
      - {type: remind, message: Heater still on, every: 5m, max: 3,
         while: {type: state, device: virtual-heater, property: power, is: true}}
"""

from __future__ import annotations

import re
import sys
from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hub.rules.durations import (
    format_duration,
    format_time_of_day,
    parse_duration,
    parse_time_of_day,
)

# defer_build: a model's validator is built when it is first used (a hub with no rules never
# builds them: ~0.1 s and ~1 MB at start on a small board); forward references (the nested
# conditions) are resolved then, from this module.
_MODEL = ConfigDict(defer_build=True, extra="forbid", frozen=True, populate_by_name=True)
#: What the API adds to a rule document it answers with (GET /rules...): clients that send a
#: document back (API PUT/POST, YAML import of an edited GET) may keep these; they are dropped
#: before validation, so the strict model still refuses every other unknown key.
READ_ONLY_KEYS = ("last_run",)

# What the API document says these accept: the validators take text ("1h30m", "07:30") that a
# schema derived from the Python types (float, time) would refuse, so valid bodies failed
# conformance checks (issue 12, point 12).
_DURATION_TEXT = {
    "type": "string",
    "pattern": r"^[+-]?(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$",
    "description": "a text like 90s, 10m, 1h30m",
}
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "number", "description": "seconds"}, _DURATION_TEXT]}),
]
PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({
        "anyOf": [{"type": "number", "exclusiveMinimum": 0, "description": "seconds"},
                  _DURATION_TEXT],
    }),
]  # fmt: skip
TimeOfDay = Annotated[
    time,
    BeforeValidator(parse_time_of_day),
    PlainSerializer(format_time_of_day, return_type=str),
    WithJsonSchema({
        "type": "string",
        "pattern": r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
        "description": "a time of day, HH:MM or HH:MM:SS",
    }),
]  # fmt: skip
Scalar = bool | int | float | str
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RunMode(StrEnum):
    """What happens when a rule triggers while an earlier run is still going."""

    SINGLE = "single"  # ignore the new trigger
    RESTART = "restart"  # stop the running one, start again
    QUEUED = "queued"  # run after the current one (up to max_runs waiting)
    PARALLEL = "parallel"  # run side by side (up to max_runs at once)


class MissedPolicy(StrEnum):
    """What to do with a deadline or time trigger that passed while the hub was down."""

    FIRE_ONCE = "fire_once"  # fire once at start-up, however many were missed
    SKIP = "skip"  # forget it; wait for the next one


# ----------------------------------------------------------------------------- triggers
class _DeviceProperty(BaseModel):
    model_config = _MODEL
    device: str = Field(min_length=1, max_length=200)
    property: str = Field(min_length=1, max_length=100)


class StateTrigger(_DeviceProperty):
    """A property changes (optionally from/to given values), optionally held `for` a while."""

    type: Literal["state"] = "state"
    to: Scalar | None = None
    from_: Scalar | None = Field(default=None, alias="from")
    for_: PositiveDuration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _held(self) -> StateTrigger:
        if self.for_ is not None and self.to is None:
            raise ValueError("`for` needs `to`: the value that must be held that long")
        return self


class NumericTrigger(_DeviceProperty):
    """A number crosses into a range (above and/or below), optionally held `for` a while."""

    type: Literal["numeric"] = "numeric"
    above: float | None = None
    below: float | None = None
    for_: PositiveDuration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _bounds(self) -> NumericTrigger:
        _check_bounds(self.above, self.below)
        return self


class TimeTrigger(BaseModel):
    """Every day at a time of day (hub's configured timezone)."""

    model_config = _MODEL
    type: Literal["time"] = "time"
    at: TimeOfDay


class CronTrigger(BaseModel):
    """A cron schedule (five fields, hub's configured timezone)."""

    model_config = _MODEL
    type: Literal["cron"] = "cron"
    cron: str = Field(min_length=9, max_length=200)

    @field_validator("cron")
    @classmethod
    def _valid(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value) or len(value.split()) != 5:
            raise ValueError(
                f"{value!r} is not a cron expression; write five fields: "
                "minute hour day-of-month month day-of-week, e.g. '*/15 6-22 * * mon-fri'"
            )
        return value


class SunTrigger(BaseModel):
    """Sunrise or sunset at the hub's configured location, with an offset (-30m, 1h)."""

    model_config = _MODEL
    type: Literal["sun"] = "sun"
    event: Literal["sunrise", "sunset"]
    offset: Duration = 0.0


class PresenceTrigger(BaseModel):
    """A person (or anyone, if `person` is left out) arrives home or leaves."""

    model_config = _MODEL
    type: Literal["presence"] = "presence"
    person: str | None = Field(default=None, min_length=1, max_length=100)
    to: Literal["home", "away", "everyone_away", "someone_home"] = "home"


class AvailabilityTrigger(BaseModel):
    """A device goes online or offline."""

    model_config = _MODEL
    type: Literal["availability"] = "availability"
    device: str = Field(min_length=1, max_length=200)
    to: Literal["online", "offline"] = "offline"
    for_: PositiveDuration | None = Field(default=None, alias="for")


class EventTrigger(BaseModel):
    """A named event (POST /api/v1/events/{name}, or another rule's `event` action)."""

    model_config = _MODEL
    type: Literal["event"] = "event"
    name: str = Field(min_length=1, max_length=100)


Trigger = Annotated[
    StateTrigger
    | NumericTrigger
    | TimeTrigger
    | CronTrigger
    | SunTrigger
    | PresenceTrigger
    | AvailabilityTrigger
    | EventTrigger,
    Field(discriminator="type"),
]
SCHEDULED_TRIGGERS = (TimeTrigger, CronTrigger, SunTrigger)


# ----------------------------------------------------------------------------- conditions
class StateCondition(_DeviceProperty):
    """A property currently has a value (`is`) or one of several (`in`)."""

    type: Literal["state"] = "state"
    is_: Scalar | None = Field(default=None, alias="is")
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one(self) -> StateCondition:
        if (self.is_ is None) == (self.in_ is None):
            raise ValueError("give exactly one of `is` (a value) or `in` (a list of values)")
        return self


class NumericCondition(_DeviceProperty):
    """A number is currently above and/or below limits."""

    type: Literal["numeric"] = "numeric"
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> NumericCondition:
        _check_bounds(self.above, self.below)
        return self


class TimeCondition(BaseModel):
    """Now is between `after` and `before` (may wrap midnight: after 22:00, before 06:00)."""

    model_config = _MODEL
    type: Literal["time"] = "time"
    after: TimeOfDay | None = None
    before: TimeOfDay | None = None

    @model_validator(mode="after")
    def _some(self) -> TimeCondition:
        if self.after is None and self.before is None:
            raise ValueError("give `after`, `before` or both (HH:MM)")
        return self


class WeekdayCondition(BaseModel):
    """Today is one of these days (mon ... sun)."""

    model_config = _MODEL
    type: Literal["weekday"] = "weekday"
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)


class PresenceCondition(BaseModel):
    """Someone home, everyone away, or one person home/away."""

    model_config = _MODEL
    type: Literal["presence"] = "presence"
    state: Literal["someone_home", "everyone_away", "home", "away"] = "someone_home"
    person: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _person(self) -> PresenceCondition:
        if self.state in ("home", "away") and self.person is None:
            raise ValueError(f"state {self.state!r} needs `person`")
        return self


class AndCondition(BaseModel):
    """All of these hold."""

    model_config = _MODEL
    type: Literal["and"] = "and"
    conditions: list[Condition] = Field(min_length=1)


class OrCondition(BaseModel):
    """At least one of these holds."""

    model_config = _MODEL
    type: Literal["or"] = "or"
    conditions: list[Condition] = Field(min_length=1)


class NotCondition(BaseModel):
    """None of these holds."""

    model_config = _MODEL
    type: Literal["not"] = "not"
    conditions: list[Condition] = Field(min_length=1)


Condition = Annotated[
    StateCondition
    | NumericCondition
    | TimeCondition
    | WeekdayCondition
    | PresenceCondition
    | AndCondition
    | OrCondition
    | NotCondition,
    Field(discriminator="type"),
]


# ----------------------------------------------------------------------------- actions
class SetAction(BaseModel):
    """Ask a device for values (through its shadow: an offline device gets them when back)."""

    model_config = _MODEL
    type: Literal["set"] = "set"
    device: str = Field(min_length=1, max_length=200)
    values: dict[str, Any] = Field(min_length=1, max_length=50)
    ttl: PositiveDuration | None = None


class CommandAction(BaseModel):
    """Send a named command (an IR button) to a device."""

    model_config = _MODEL
    type: Literal["command"] = "command"
    device: str = Field(min_length=1, max_length=200)
    command: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)


class SceneAction(BaseModel):
    """Apply a stored scene (PUT /api/v1/scenes/{name}): values for several devices at once."""

    model_config = _MODEL
    type: Literal["scene"] = "scene"
    scene: str = Field(min_length=1, max_length=100)


class DelayAction(BaseModel):
    """Wait before the next action; durable (survives a restart, keeps its due time)."""

    model_config = _MODEL
    type: Literal["delay"] = "delay"
    for_: PositiveDuration = Field(alias="for")


class WaitAction(BaseModel):
    """Wait until a condition holds, at most `timeout`; durable like a delay."""

    model_config = _MODEL
    type: Literal["wait"] = "wait"
    until: Condition
    timeout: PositiveDuration
    on_timeout: Literal["stop", "continue"] = "stop"


class NotifyAction(BaseModel):
    """Send a message to people (log, API WebSocket, later the relay's push)."""

    model_config = _MODEL
    type: Literal["notify"] = "notify"
    message: str = Field(min_length=1, max_length=1000)
    title: str = Field(default="", max_length=200)


class RemindAction(BaseModel):
    """Notify every `every`, at most `max` times, counted from the trigger, while `while` holds."""

    model_config = _MODEL
    type: Literal["remind"] = "remind"
    message: str = Field(min_length=1, max_length=1000)
    title: str = Field(default="", max_length=200)
    every: PositiveDuration
    max: int = Field(default=3, ge=1, le=1000)
    while_: Condition | None = Field(default=None, alias="while")


class EventAction(BaseModel):
    """Fire a named event (other rules can trigger on it)."""

    model_config = _MODEL
    type: Literal["event"] = "event"
    name: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, max_length=50)


Action = Annotated[
    SetAction
    | CommandAction
    | SceneAction
    | DelayAction
    | WaitAction
    | NotifyAction
    | RemindAction
    | EventAction,
    Field(discriminator="type"),
]


# ----------------------------------------------------------------------------- rule
class Rule(BaseModel):
    """One automation: when any trigger fires and all conditions hold, run the actions."""

    model_config = _MODEL
    id: str = Field(default="", max_length=100, description="generated when left out")
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    mode: RunMode = RunMode.SINGLE
    max_runs: int = Field(default=10, ge=1, le=1000)
    missed: MissedPolicy = MissedPolicy.FIRE_ONCE
    triggers: list[Trigger] = Field(min_length=1, max_length=50)
    conditions: list[Condition] = Field(default_factory=list, max_length=50)
    actions: list[Action] = Field(min_length=1, max_length=100)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value and not _ID_RE.match(value):
            raise ValueError("an id is 1-100 letters, digits, '_', '-' or '.'")
        return value

    def to_doc(self) -> dict[str, Any]:
        """The JSON/YAML form, without defaults, with `for`/`is`/... spelt as written."""
        doc: dict[str, Any] = self.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude={"id", "enabled"}
        )
        # `type` is the discriminator: keep it although it equals the default.
        for key in ("triggers", "conditions", "actions"):
            items = getattr(self, key)
            if key in doc or items:
                doc[key] = [_with_type(m) for m in items]
        return {"id": self.id, "enabled": self.enabled, **doc}


def _with_type(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {"type": model.type}  # type: ignore[attr-defined]
    for name, value in model.model_dump(mode="json", by_alias=True, exclude_defaults=True).items():
        out[name] = value
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, BaseModel) and key in out:
            out[key] = _with_type(value)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            out[key] = [_with_type(v) for v in value]
    return out


def _check_bounds(above: float | None, below: float | None) -> None:
    if above is None and below is None:
        raise ValueError("give `above`, `below` or both")
    if above is not None and below is not None and above >= below:
        raise ValueError(f"`above` ({above}) must be less than `below` ({below})")




# Rules are frozen models; a hub keeps thousands of them (100,000 in bench/rules_scale.py).
# tracemalloc across 10,000 stored rules: ~2.5 KB each, nearly all pydantic instances, and
# each instance carries its own `__pydantic_fields_set__` (a set: 216 bytes or more) although
# the same few sets recur. Frozen models never change that set (pydantic copies it in
# model_copy), so equal ones can be one shared object.
_SHARED_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def compact(model: BaseModel) -> None:
    """Share the field sets of a frozen model tree (what it reads back is unchanged)."""
    if not model.model_config.get("frozen"):
        return
    fields = model.__pydantic_fields_set__
    key = frozenset(fields)
    shared = _SHARED_FIELD_SETS.get(key)
    if shared is None:
        shared = _SHARED_FIELD_SETS[key] = set(key)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    values = model.__dict__
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            if len(value) <= 64:
                # Device ids, property names, type tags recur across rules (and a rule read
                # back from JSON has its own copy of each): one copy of an equal string.
                values[name] = sys.intern(value)
        elif kind is list or kind is tuple:
            for item in value:
                if _is_model(type(item)):
                    compact(item)
        elif _is_model(kind):
            compact(value)


# isinstance() against BaseModel goes through ABCMeta (slow: compact() walked 5,000 loaded
# rules in a quarter of the hub's start); a model type is a model type for good.
_MODEL_TYPES: dict[type, bool] = {}


def _is_model(kind: type) -> bool:
    known = _MODEL_TYPES.get(kind)
    if known is None:
        known = _MODEL_TYPES[kind] = issubclass(kind, BaseModel)
    return known
