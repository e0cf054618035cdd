"""Logs as one JSON object a line (`--log-format json`), with request and hub ids.

A log shipper can then filter by field instead of parsing text. Each record carries the
request id of the HTTP request it was logged in (the client's `X-Request-ID` when it sent a
sane one, else a new one; answered in the same header), the hub id (the hub's own; on the
relay, the hub a request is for), and for access lines method, route, status and duration.
With JSON logs each answered request also gets one access line (logger `homehub.access`);
text logs stay as quiet as before.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

ACCESS = logging.getLogger("homehub.access")
ACCESS.setLevel(logging.WARNING)  # quiet until `configure("json")` turns the lines on

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
hub_id: contextvars.ContextVar[str] = contextvars.ContextVar("hub_id", default="")
#: The process's own hub id (the hub sets it at start; every record carries it).
process_fields: dict[str, str] = {}

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Attributes every LogRecord has; anything else was passed in `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def new_request_id(offered: str | None) -> str:
    """The client's id when it is short and plain (log injection otherwise), else a new one."""
    if offered and _SANE_ID.match(offered):
        return offered
    return secrets.token_hex(8)


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(process_fields)
        if rid := request_id.get():
            out["request_id"] = rid
        if hid := hub_id.get():
            out["hub_id"] = hid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Set up the root logger: text lines as before (basicConfig), or JSON lines on stderr."""
    if log_format != "json":
        ACCESS.setLevel(logging.WARNING)  # no access lines in text logs
        logging.basicConfig(level=level, format=TEXT_FORMAT)
        return
    root = logging.getLogger()
    for old in list(root.handlers):
        # A plain stream handler (basicConfig's, or ours from before) would print every record
        # a second time; other handlers (a test's capture) stay.
        if type(old) is logging.StreamHandler:
            root.removeHandler(old)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    ACCESS.setLevel(logging.INFO)


def access(method: str, route: str, status: int, seconds: float) -> None:
    """One access line (JSON logs only: the logger is quiet otherwise)."""
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info(
            "%s %s %d", method, route, status,
            extra={"method": method, "route": route, "status": status,
                   "duration_ms": round(seconds * 1000, 2)},
        )  # fmt: skip
