"""IR learning sessions: put a blaster in learning mode, follow progress, save the code.

The TUI and phone poll a session (state, elapsed, remaining) instead of holding a request open
for the half-minute a person may take to find the remote.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from hub.core.registry import DeviceRegistry, new_id
from hub.errors import Invalid, NotFound, Unavailable
from hub.model import IrLearner
from hub.model.errors import CommandFailed, DeviceUnreachable

_LOG = logging.getLogger(__name__)

MAX_SESSIONS = 20
KEEP_FINISHED_S = 600.0


@dataclass
class LearnSession:
    """One learning attempt on one blaster."""

    id: str
    blaster_id: str
    timeout_s: float
    state: str = "waiting"  # waiting | captured | timeout | failed (saves go to saved_as)
    elapsed_s: float = 0.0
    reason: str = ""
    code: bytes | None = None
    finished_at: float | None = None
    saved_as: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the code as hex, base64 and (when it parses) its protocol."""
        out: dict[str, Any] = {
            "session_id": self.id,
            "blaster_id": self.blaster_id,
            "state": self.state,
            "elapsed_s": round(self.elapsed_s, 1),
            "remaining_s": round(max(0.0, self.timeout_s - self.elapsed_s), 1),
            "reason": self.reason,
            "code": None,
            "saved_as": self.saved_as,
        }
        if self.code is not None:
            out["code"] = {
                "broadlink_hex": self.code.hex(),
                "broadlink_base64": base64.b64encode(self.code).decode(),
                **_describe(self.code),
            }
        return out


def _describe(code: bytes) -> dict[str, Any]:
    """Protocol, address and command of a learned code, when ir_codes recognises it."""
    try:
        from ir_codes import decode
        from ir_codes.formats.broadlink import from_packet

        ir = decode(from_packet(code))
    except Exception:  # an unknown protocol is normal for learned codes: keep it raw
        return {"protocol": None}
    return {"protocol": ir.protocol, "address": ir.address, "command": ir.command, "bits": ir.bits}


class IrLearning:
    """Runs learning sessions against whichever integration owns the blaster."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry
        self.sessions: dict[str, LearnSession] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _learner(self, device_id: str) -> IrLearner:
        rec = self.registry.get(device_id)
        integ = self.registry.integrations.get(rec.description.integration)
        if not isinstance(integ, IrLearner):
            raise Invalid(f"{rec.name} cannot learn IR codes; choose an IR blaster")
        return integ

    async def start(self, blaster_id: str, timeout_s: float) -> LearnSession:
        """Begin listening on a blaster; the returned session updates as time passes."""
        learner = self._learner(blaster_id)
        if not self.registry.get(blaster_id).online:
            raise Unavailable("that blaster is offline; check its power and Wi-Fi")
        self._forget_old()
        busy = [
            s for s in self.sessions.values() if s.blaster_id == blaster_id and s.state == "waiting"
        ]
        if busy:
            raise Invalid(f"{blaster_id} is already learning (session {busy[0].id})")
        if len(self.sessions) >= MAX_SESSIONS:
            raise Unavailable("too many learning sessions; finish or wait for the others")
        session = LearnSession(new_id("learn"), blaster_id, timeout_s)
        self.sessions[session.id] = session
        self._tasks[session.id] = asyncio.create_task(self._run(session, learner))
        return session

    async def _run(self, session: LearnSession, learner: IrLearner) -> None:
        started = time.monotonic()

        def progress(elapsed: float, remaining: float) -> None:
            session.elapsed_s = elapsed

        try:
            session.code = await learner.learn(session.blaster_id, session.timeout_s, progress)
            session.state = "captured"
        except DeviceUnreachable as err:
            session.state, session.reason = "failed", str(err)
        except CommandFailed as err:
            timed_out = "time" in str(err).lower()
            session.state, session.reason = ("timeout" if timed_out else "failed"), str(err)
        except asyncio.CancelledError:
            session.state, session.reason = "failed", "the hub is shutting down"
            raise
        except Exception as err:
            _LOG.exception("learning on %s failed", session.blaster_id)
            session.state, session.reason = "failed", f"internal error: {err}"
        finally:
            session.elapsed_s = time.monotonic() - started
            session.finished_at = time.monotonic()

    def get(self, session_id: str) -> LearnSession:
        """A session by id."""
        try:
            return self.sessions[session_id]
        except KeyError:
            raise NotFound(f"no learning session {session_id!r} (they last 10 minutes)") from None

    async def save(self, session_id: str, device_id: str, command: str) -> LearnSession:
        """Store the captured code as `command` of an IR device."""
        session = self.get(session_id)
        if session.code is None:
            raise Invalid(f"session {session_id} has no code yet (state: {session.state})")
        learner = self._learner(device_id)
        try:
            await learner.save_learned(device_id, command, session.code)
        except CommandFailed as err:
            raise Invalid(str(err)) from err
        session.saved_as.append(f"{device_id}/{command}")
        return session

    def _forget_old(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if s.finished_at is not None and now - s.finished_at > KEEP_FINISHED_S:
                del self.sessions[sid]
                self._tasks.pop(sid, None)

    async def close(self) -> None:
        """Cancel sessions still listening."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
