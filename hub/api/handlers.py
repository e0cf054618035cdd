"""The hub's endpoints. Handlers see `Call` values, never aiohttp objects."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hub import __version__
from hub.api.browser import add_session_routes, check_same_origin, session_body
from hub.api.messages import ApiResponse, json_list
from hub.api.router import Call, Router
from hub.api.schemas import (
    AdoptRequest,
    CommandRun,
    DesiredWrite,
    DeviceListQuery,
    DeviceUpdate,
    HistoryQuery,
    LearnSave,
    LearnStart,
    NamedEventFire,
    NotificationsQuery,
    PairRequest,
    PresenceUpdate,
)
from hub.errors import Invalid
from hub.events import NamedEvent

if TYPE_CHECKING:
    from hub.app import Hub

MAX_IDEMPOTENCY_KEY = 200


def build_router(hub: Hub) -> Router:
    """All endpoints of one hub."""
    router = Router(hub.auth.verify)
    reg = hub.registry
    add = router.add

    @add(
        "GET",
        "/health",
        "Is the hub up? 'degraded' with the problems (integrations that did not start, "
        "devices offline, the relay link down, connections near the cap, the database)",
        auth=False,
        tag="system",
    )
    async def health(call: Call) -> Any:
        # 200 either way: the hub answers; a monitor reads status and problems.
        problems = await hub.problems()
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "version": __version__,
            "hub_id": hub.hub_id,
            "name": hub.config.name,
            "devices": len(reg.devices),
            "uptime_s": round(time.monotonic() - hub.started_monotonic, 3),
        }

    @add("GET", "/openapi.json", "This document", auth=False, tag="system")
    async def openapi(call: Call) -> Any:
        return router.openapi("homehub hub API", __version__)

    @add("GET", "/devices", "List devices", query=DeviceListQuery, tag="devices")
    async def list_devices(call: Call) -> Any:
        return json_list("devices", (r.to_dict() for r in reg.list(call.query.room)))

    @add("GET", "/rooms", "Rooms and how many devices each has", tag="devices")
    async def rooms(call: Call) -> Any:
        counts: dict[str, int] = {}
        for rec in reg.devices.values():
            counts[rec.room or ""] = counts.get(rec.room or "", 0) + 1
        return {"rooms": [{"name": k, "devices": v} for k, v in sorted(counts.items())]}

    @add("GET", "/devices/{device_id}", "One device with its shadow", tag="devices")
    async def get_device(call: Call) -> Any:
        return reg.get(call.params["device_id"]).to_dict()

    @add(
        "PATCH",
        "/devices/{device_id}",
        "Rename or move to a room",
        body=DeviceUpdate,
        tag="devices",
    )
    async def update_device(call: Call) -> Any:
        rec = await reg.update(call.params["device_id"], call.body.name, call.body.room)
        return rec.to_dict()

    @add("DELETE", "/devices/{device_id}", "Remove a device", status=204, tag="devices")
    async def remove_device(call: Call) -> Any:
        await reg.remove(call.params["device_id"])
        return ApiResponse(204)

    @add("GET", "/devices/{device_id}/shadow", "Reported, desired, delta, versions", tag="devices")
    async def shadow(call: Call) -> Any:
        return reg.get(call.params["device_id"]).shadow.to_dict()

    @add(
        "PUT",
        "/devices/{device_id}/desired",
        "Ask a device for new values",
        body=DesiredWrite,
        status=202,
        tag="devices",
        responses={
            409: "a key changed since the versions you sent",
            422: "unknown or read-only property, or a value out of range",
        },
    )
    async def write_desired(call: Call) -> Any:
        key = call.header("idempotency-key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            raise Invalid(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        ack = await reg.write_desired(
            call.params["device_id"],
            call.body.values,
            versions=call.body.versions,
            ttl_s=call.body.ttl_s,
            idempotency_key=key,
        )
        return ack.to_dict()

    @add(
        "POST",
        "/devices/{device_id}/commands/{command}",
        "Run a named command (IR button)",
        body=CommandRun,
        status=202,
        tag="devices",
    )
    async def run_command(call: Call) -> Any:
        ack = await reg.send_command(
            call.params["device_id"], call.params["command"], call.body.params
        )
        return ack.to_dict()

    @add(
        "GET",
        "/commands/{command_id}",
        "A command's status: pending, sent, then confirmed, failed, expired or superseded "
        "(a newer command took every key it wanted; the reason names that command)",
        tag="devices",
    )
    async def command(call: Call) -> Any:
        return await reg.command_status(call.params["command_id"])

    @add(
        "GET",
        "/devices/{device_id}/history",
        "Samples of a numeric property",
        query=HistoryQuery,
        tag="history",
    )
    async def history(call: Call) -> Any:
        rec = reg.get(call.params["device_id"])
        q: HistoryQuery = call.query
        if q.property not in rec.description.properties:
            raise Invalid(f"{rec.name} has no property {q.property!r}")
        now = hub.clock.now()
        end = q.end if q.end is not None else now
        start = q.start if q.start is not None else end - 86400
        points = await hub.history.query(rec.id, q.property, start, end, q.resolution)
        return {
            "device_id": rec.id,
            "property": q.property,
            "start": start,
            "end": end,
            "resolution": q.resolution,
            "points": points,
        }

    @add("GET", "/discovered", "Found on the network, not adopted yet", tag="discovery")
    async def discovered(call: Call) -> Any:
        return {"discovered": [d.to_dict() for d in reg.discovered_devices.values()]}

    @add(
        "POST",
        "/discovered/{key}/adopt",
        "Adopt a discovered device",
        body=AdoptRequest,
        tag="discovery",
    )
    async def adopt(call: Call) -> Any:
        await reg.adopt(call.params["key"], call.body.name, call.body.room, call.body.options)
        return {"adopted": call.params["key"]}

    @add(
        "POST",
        "/pair",
        "Exchange a one-time pairing code for a token",
        body=PairRequest,
        auth=False,
        tag="auth",
        responses={
            201: "with cookie: true, the session cookie is set; the body has the CSRF token",
            403: "a browser pairing posted by another site's page",
            429: "too many wrong codes",
        },
    )
    async def pair(call: Call) -> Any:
        if call.body.cookie:
            check_same_origin(call.request.headers)
        token_id, token = await hub.auth.pair(
            call.body.code, call.body.client_name, address=call.request.remote
        )
        if call.body.cookie:
            return ApiResponse(201, session_body(hub, token_id, token), set_session=token)
        return {"token": token, "token_id": token_id, "hub_id": hub.hub_id}

    add_session_routes(router, hub)

    @add("GET", "/tokens", "Paired clients", tag="auth")
    async def tokens(call: Call) -> Any:
        return {"tokens": [t.to_dict() for t in await hub.auth.list_tokens()]}

    @add("DELETE", "/tokens/{token_id}", "Revoke a token", status=204, tag="auth")
    async def revoke(call: Call) -> Any:
        await hub.auth.revoke(call.params["token_id"])
        return ApiResponse(204)

    @add(
        "GET",
        "/presence",
        "Who is home; with `home_location` {latitude, longitude, radius_m} when [location] is "
        "set, so a phone can decide home or away from its own position",
        tag="presence",
    )
    async def presence(call: Call) -> Any:
        out: dict[str, Any] = {
            "people": hub.presence.people,
            "anyone_home": hub.presence.anyone_home(),
        }
        cfg = hub.config
        if cfg.latitude is not None and cfg.longitude is not None:
            out["home_location"] = {
                "latitude": cfg.latitude,
                "longitude": cfg.longitude,
                "radius_m": cfg.home_radius_m,
            }
        return out

    @add("POST", "/presence", "A phone arrived home or left", body=PresenceUpdate, tag="presence")
    async def set_presence(call: Call) -> Any:
        await hub.presence.set(call.body.person, call.body.home)
        return {"person": call.body.person, "home": call.body.home}

    @add(
        "GET",
        "/notifications",
        "The inbox: what rules sent, newest first; a page of `limit`, then pass `next_before` "
        "as `before` for the next",
        query=NotificationsQuery,
        tag="notifications",
    )
    async def notifications(call: Call) -> Any:
        q: NotificationsQuery = call.query
        items, next_before = await hub.notifications.page(q.state, q.limit, q.before)
        return {
            "notifications": items,
            "next_before": next_before,
            "open": await hub.notifications.open_count(),
        }

    @add("GET", "/notifications/{notification_id}", "One inbox entry", tag="notifications")
    async def notification(call: Call) -> Any:
        return await hub.notifications.get(call.params["notification_id"])

    @add(
        "POST",
        "/notifications/{notification_id}/resolve",
        "Mark an entry resolved; a reminder stops repeating (resolving twice is fine)",
        tag="notifications",
        responses={404: "no such notification"},
    )
    async def resolve_notification(call: Call) -> Any:
        return await hub.notifications.resolve(
            call.params["notification_id"], call.principal or "unknown"
        )

    @add(
        "POST",
        "/events/{name}",
        "Fire a named event",
        body=NamedEventFire,
        status=202,
        tag="events",
    )
    async def fire(call: Call) -> Any:
        hub.bus.publish(
            NamedEvent(ts=hub.clock.now(), name=call.params["name"], data=call.body.data)
        )
        return {"fired": call.params["name"]}

    @add(
        "POST",
        "/ir/learn",
        "Start learning an IR code on a blaster",
        body=LearnStart,
        status=202,
        tag="ir",
    )
    async def learn(call: Call) -> Any:
        session = await hub.ir_learning.start(call.body.blaster_id, call.body.timeout_s)
        return session.to_dict()

    @add("GET", "/ir/learn/{session_id}", "Progress of a learning session", tag="ir")
    async def learn_status(call: Call) -> Any:
        return hub.ir_learning.get(call.params["session_id"]).to_dict()

    @add(
        "POST",
        "/ir/learn/{session_id}/save",
        "Save the learned code as a named command",
        body=LearnSave,
        tag="ir",
    )
    async def learn_save(call: Call) -> Any:
        session = await hub.ir_learning.save(
            call.params["session_id"], call.body.device_id, call.body.command
        )
        return session.to_dict()

    for extend in hub.route_extensions:
        extend(router)
    return router
