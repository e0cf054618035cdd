"""Request models: they validate requests and generate the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from hub.core.notifications import DEFAULT_PAGE, MAX_PAGE

# defer_build: each model's validator is built on its first request (an endpoint a home never
# calls costs nothing; ~2 MB less at start, bench/hub_start.py).
_STRICT = ConfigDict(defer_build=True, extra="forbid")


class DeviceUpdate(BaseModel):
    """Rename a device or move it to another room."""

    model_config = _STRICT
    name: str | None = Field(default=None, min_length=1, max_length=100)
    room: str | None = Field(default=None, max_length=100, description="'' clears the room")


class DesiredWrite(BaseModel):
    """Values to set; `versions` are the per-key versions you last read (optional)."""

    model_config = _STRICT
    values: dict[str, Any] = Field(min_length=1, max_length=100)
    versions: dict[str, int] | None = Field(default=None, max_length=100)
    ttl_s: float | None = Field(
        default=None, gt=0, description="give up if the device has not taken it by then"
    )


class CommandRun(BaseModel):
    """Parameters of a named command (most IR buttons take none)."""

    model_config = _STRICT
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)


class HistoryQuery(BaseModel):
    """A property's samples in a time range, optionally averaged per `resolution` seconds."""

    model_config = _STRICT
    property: str = Field(min_length=1, max_length=100)
    start: float | None = Field(default=None, description="epoch seconds; default: a day ago")
    end: float | None = Field(default=None, description="epoch seconds; default: now")
    resolution: float | None = Field(default=None, ge=1, le=86400 * 30)


class DeviceListQuery(BaseModel):
    """Optional filter of the device list."""

    # Built at import, not deferred: every hub lists its devices, and the first model pydantic
    # builds scans the installed packages for its plugins (file I/O), which must not happen
    # on the event loop at the first request (blockbuster caught it).
    model_config = ConfigDict(extra="forbid")
    room: str | None = Field(default=None, max_length=100)


class PairRequest(BaseModel):
    """Exchange the one-time code the hub shows for a token."""

    model_config = _STRICT
    code: str = Field(min_length=4, max_length=20)
    client_name: str = Field(min_length=1, max_length=100)
    cookie: bool = Field(
        default=False,
        strict=True,
        description="for the web app: keep the token in an HttpOnly session cookie and answer "
        "{hub_id, token_id, csrf} without it",
    )


class AdoptRequest(BaseModel):
    """Adopt a discovered device, optionally naming it and putting it in a room."""

    model_config = _STRICT
    name: str | None = Field(default=None, min_length=1, max_length=100)
    room: str | None = Field(default=None, max_length=100)
    options: dict[str, Any] = Field(default_factory=dict, max_length=20)


class PresenceUpdate(BaseModel):
    """A person's phone arrived home or left."""

    model_config = _STRICT
    person: str = Field(min_length=1, max_length=100)
    home: StrictBool  # `0`, `"yes"` are mistakes to report, not to guess at


class NotificationsQuery(BaseModel):
    """Which inbox entries, newest first, one page at a time."""

    model_config = _STRICT
    state: Literal["open", "resolved", "all"] = Field(
        default="all", description="open: not resolved yet; resolved; all"
    )
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    before: int | None = Field(
        default=None, ge=1, description="the `next_before` of the previous page"
    )


class NamedEventFire(BaseModel):
    """Fire a named event that rules can trigger on."""

    model_config = _STRICT
    data: dict[str, Any] = Field(default_factory=dict, max_length=50)


class LearnStart(BaseModel):
    """Listen for a remote's button on an IR blaster."""

    model_config = _STRICT
    blaster_id: str = Field(min_length=1, max_length=200)
    timeout_s: float = Field(default=30.0, ge=1, le=300)


class LearnSave(BaseModel):
    """Save a learned code as a named command of an IR device."""

    model_config = _STRICT
    device_id: str = Field(min_length=1, max_length=200)
    command: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
