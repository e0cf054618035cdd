"""An ECHONET Lite node emulator speaking the real protocol over UDP 3610.

    node = EchonetNode(bind="127.0.0.5", objects=["aircon", "meter"])
    await node.start()
    node.object("aircon").read(0x80)               # inspect
    await node.change("aircon", 0xBB, bytes([20]))  # modify (announced by INF when in 0x9D)
    await node.stop()

Behaviour: Set answers Set_Res and announces changed properties by INF; the air conditioner's
room temperature drifts toward the target while it runs; the meter follows a daily load curve and
integrates it into cumulative energy; solar follows the sun; Get of unknown EPCs and Set of
read-only ones answer SNA. INF goes to 224.0.23.0 when multicast works; otherwise, so that networks
without multicast still see notifications, by unicast to the controllers that talked to the node.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from integrations.echonet import mapping as m
from integrations.echonet.classes import class_spec
from integrations.echonet.frame import NODE_PROFILE, Eoj, Esv, Frame, Property
from integrations.echonet.propmap import ANNOUNCE_MAP, GET_MAP, SET_MAP, encode_map
from integrations.echonet.transport import PORT, EchonetTransport, FrameLink, LinkFactory

Clock = Callable[[], float]
MAKER_CODE = b"\x00\x00\x00"  # OpenECHO and many test nodes use 0x000000 (unregistered)
_SUPER_GET = (0x80, 0x81, 0x82, 0x88, 0x8A)
_SUPER_ANNOUNCE = (0x80, 0x81, 0x88)


def _u(value: float, size: int, *, signed: bool = False) -> bytes:
    return int(value).to_bytes(size, "big", signed=signed)


def _acceptable(class_code: int, epc: int, edt: bytes) -> bool:
    """Whether EDT fits the MRA's description of the property (size, enum, range)."""
    spec = class_spec(class_code)
    prop = spec.epc(epc) if spec is not None else None
    if prop is None:
        return False
    if prop.size is not None and not prop.size[0] <= len(edt) <= prop.size[1]:
        return False
    for form in prop.data:
        kind = form["t"]
        if kind in ("state", "numericValue") and edt.hex().upper() in form["enum"]:
            return True
        if kind == "number":
            number = prop.number()
            if number is None or len(edt) != number.size:
                continue
            value = int.from_bytes(edt, "big", signed=number.signed)
            low = number.minimum if number.minimum is not None else -math.inf
            high = number.maximum if number.maximum is not None else math.inf
            if low <= value <= high:
                return True
        if kind == "level":
            base, count = int(form["base"], 16), int(form["max"])
            if len(edt) == 1 and base <= edt[0] < base + count:
                return True
        if kind not in ("state", "numericValue", "number", "level"):
            return True  # raw, bitmap, time...: the size check above is all we verify
    return False


class EmulatedObject:
    """One ECHONET object: its property values, which of them are settable and announced."""

    kind: ClassVar[str] = "object"
    class_code: ClassVar[int] = 0
    settable: ClassVar[frozenset[int]] = frozenset({0x81})
    announced: ClassVar[frozenset[int]] = frozenset(_SUPER_ANNOUNCE)

    def __init__(self, instance: int = 1, *, epcs: Iterable[int] | None = None,
                 clock: Clock = time.time) -> None:
        self.eoj = Eoj(self.class_code >> 8, self.class_code & 0xFF, instance)
        self.clock = clock
        self._last = clock()
        self.values: dict[int, bytes] = {
            0x80: b"\x30", 0x81: b"\x00", 0x82: b"\x00\x00\x52\x00", 0x88: b"\x42",
            0x8A: MAKER_CODE,
        }
        self.values.update(self.initial())
        if epcs is not None:  # emulate a unit that implements fewer properties
            keep = set(epcs)
            self.values = {k: v for k, v in self.values.items() if k in keep}

    def initial(self) -> dict[int, bytes]:
        """Class-specific starting values."""
        return {}

    def simulate(self, now: float, dt: float) -> None:
        """Advance the physical model by dt seconds (subclasses)."""

    def _advance(self) -> None:
        now = self.clock()
        dt, self._last = max(0.0, now - self._last), now
        self.simulate(now, dt)

    @property
    def get_map(self) -> frozenset[int]:
        """Readable EPCs (including the maps themselves)."""
        return frozenset(self.values) | {ANNOUNCE_MAP, SET_MAP, GET_MAP}

    @property
    def set_map(self) -> frozenset[int]:
        """Writable EPCs."""
        return frozenset(self.settable & set(self.values))

    @property
    def announce_map(self) -> frozenset[int]:
        """EPCs announced by INF when they change."""
        return frozenset(self.announced & set(self.values))

    def read(self, epc: int) -> bytes | None:
        """Current EDT of an EPC, None when the object has no such property."""
        if epc == GET_MAP:
            return encode_map(self.get_map)
        if epc == SET_MAP:
            return encode_map(self.set_map)
        if epc == ANNOUNCE_MAP:
            return encode_map(self.announce_map)
        if epc not in self.values:
            return None
        self._advance()
        return self.values[epc]

    def write(self, epc: int, edt: bytes) -> bool:
        """Apply a Set from the network; False when refused (read-only, unknown, bad value)."""
        if epc not in self.set_map or not _acceptable(self.class_code, epc, edt):
            return False
        self._advance()
        self.values[epc] = bytes(edt)
        self.on_write(epc)
        return True

    def on_write(self, epc: int) -> None:
        """React to an accepted Set (subclasses)."""

    def update(self, epc: int, edt: bytes) -> bool:
        """Change a value locally (a user at the unit, a test); True when it changed."""
        old = self.values.get(epc)
        self.values[epc] = bytes(edt)
        return old != edt


class Aircon(EmulatedObject):
    """Home air conditioner 0x0130: room temperature drifts toward the target while running."""

    kind = "aircon"
    class_code = m.AIRCON
    settable = frozenset({0x80, 0x81, 0xB0, 0xB3, 0xA0})
    announced = frozenset({*_SUPER_ANNOUNCE, 0xB0, 0xA0})
    AMBIENT = 30.0
    TAU_RUNNING_S = 600.0
    TAU_IDLE_S = 1800.0

    def initial(self) -> dict[int, bytes]:
        """Off, cooling to 26 °C, fan auto, room at 28 °C."""
        self.room = 28.0
        return {0x80: b"\x31", 0xB0: b"\x42", 0xB3: bytes([26]), 0xBB: bytes([28]),
                0xBA: bytes([55]), 0xA0: b"\x41"}

    def simulate(self, now: float, dt: float) -> None:
        """Exponential approach to the target (running) or to the ambient temperature."""
        running = self.values.get(0x80) == b"\x30" and self.values.get(0xB0) != b"\x45"
        goal = float(self.values.get(0xB3, bytes([26]))[0]) if running else self.AMBIENT
        tau = self.TAU_RUNNING_S if running else self.TAU_IDLE_S
        self.room += (goal - self.room) * (1 - math.exp(-dt / tau))
        if 0xBB in self.values:
            self.values[0xBB] = _u(round(self.room), 1, signed=True)


def _hour(now: float) -> float:
    local = time.localtime(now)
    return local.tm_hour + local.tm_min / 60 + local.tm_sec / 3600


class Meter(EmulatedObject):
    """Low-voltage smart meter 0x0288: daily load curve, energy integrated in 0.1 kWh units."""

    kind = "meter"
    class_code = m.METER

    def initial(self) -> dict[int, bytes]:
        """Coefficient 1, unit 0.1 kWh, 6 digits."""
        self.energy_kwh = 1234.5
        self.export_kwh = 12.3
        return {0xD3: _u(1, 4), 0xD7: b"\x06", 0xE1: b"\x01", 0xE0: _u(12345, 4),
                0xE3: _u(123, 4), 0xE7: _u(500, 4, signed=True)}

    @staticmethod
    def load_w(hour: float) -> float:
        """Household load: base, morning and evening peaks."""
        morning = 1200 * math.exp(-((hour - 7.5) ** 2) / 1.5)
        evening = 2000 * math.exp(-((hour - 19.5) ** 2) / 4.0)
        return 300 + morning + evening

    def simulate(self, now: float, dt: float) -> None:
        """Power from the curve; energy integrates it."""
        power = self.load_w(_hour(now))
        self.energy_kwh += power * dt / 3_600_000
        self.values[0xE7] = _u(round(power), 4, signed=True)
        self.values[0xE0] = _u(int(self.energy_kwh * 10) % 1_000_000, 4)
        self.values[0xE3] = _u(int(self.export_kwh * 10) % 1_000_000, 4)


class Solar(EmulatedObject):
    """Household solar 0x0279: generation follows the sun (06:00-18:00)."""

    kind = "solar"
    class_code = m.SOLAR
    PEAK_W = 4000.0

    def initial(self) -> dict[int, bytes]:
        """No generation yet, 5,000 kWh generated so far."""
        self.energy_kwh = 5000.0
        return {0xE0: _u(0, 2), 0xE1: _u(5_000_000, 4)}

    @classmethod
    def generation_w(cls, hour: float) -> float:
        """A sine arc from sunrise to sunset."""
        return cls.PEAK_W * math.sin(math.pi * (hour - 6) / 12) if 6 <= hour <= 18 else 0.0

    def simulate(self, now: float, dt: float) -> None:
        """Power from the sun's height; cumulative generation in Wh."""
        power = self.generation_w(_hour(now))
        self.energy_kwh += power * dt / 3_600_000
        self.values[0xE0] = _u(round(power), 2)
        self.values[0xE1] = _u(int(self.energy_kwh * 1000) % 1_000_000_000, 4)


class Battery(EmulatedObject):
    """Storage battery 0x027D: charges or discharges at 1.5 kW by operation mode."""

    kind = "battery"
    class_code = m.BATTERY
    settable = frozenset({0x81, 0xDA})
    announced = frozenset({*_SUPER_ANNOUNCE, 0xDA})
    CAPACITY_WH = 10_000.0
    RATE_W = 1500.0

    def initial(self) -> dict[int, bytes]:
        """Standby at 50 %."""
        self.stored_wh = self.CAPACITY_WH / 2
        return {0xDA: b"\x44", 0xD3: _u(0, 4, signed=True), 0xE2: _u(self.stored_wh, 4),
                0xE4: bytes([50])}

    def simulate(self, now: float, dt: float) -> None:
        """Integrate charge; stop at empty or full."""
        mode = self.values.get(0xDA, b"\x44")[0]
        rate = {0x41: 2 * self.RATE_W, 0x42: self.RATE_W, 0x43: -self.RATE_W}.get(mode, 0.0)
        self.stored_wh = min(self.CAPACITY_WH, max(0.0, self.stored_wh + rate * dt / 3600))
        if self.stored_wh in (0.0, self.CAPACITY_WH):
            rate = 0.0
        self.values[0xD3] = _u(rate, 4, signed=True)
        self.values[0xE2] = _u(self.stored_wh, 4)
        self.values[0xE4] = bytes([round(100 * self.stored_wh / self.CAPACITY_WH)])


class Light(EmulatedObject):
    """General lighting 0x0290: power, light level, lighting mode."""

    kind = "light"
    class_code = m.LIGHT
    settable = frozenset({0x80, 0x81, 0xB0, 0xB6})

    def initial(self) -> dict[int, bytes]:
        """Off, 80 %, normal lighting."""
        return {0x80: b"\x31", 0xB0: bytes([80]), 0xB6: b"\x42"}


class WaterHeater(EmulatedObject):
    """Electric water heater 0x026B: heating mode, supply status, tank contents."""

    kind = "water_heater"
    class_code = m.WATER_HEATER
    settable = frozenset({0x80, 0x81, 0xB0})
    announced = frozenset({*_SUPER_ANNOUNCE, 0xB0, 0xC3})

    def initial(self) -> dict[int, bytes]:
        """Automatic heating, not supplying, 300 L."""
        return {0xB0: b"\x41", 0xC3: b"\x42", 0xE1: _u(300, 2)}


class NodeProfile(EmulatedObject):
    """Node profile 0x0EF0: identity and the instance lists of its node."""

    kind = "node_profile"
    class_code = 0x0EF0
    settable = frozenset({0xBF})
    announced = frozenset({0x80, 0xD5})

    def __init__(self, node_id: bytes, objects: Sequence[EmulatedObject],
                 clock: Clock = time.time) -> None:
        self.node_id = node_id
        self.objects = objects
        super().__init__(1, clock=clock)

    def initial(self) -> dict[int, bytes]:
        """Version 1.14, identity, instance and class lists."""
        eojs = [o.eoj for o in self.objects]
        classes = sorted({e.class_code for e in eojs})
        instance_list = instance_list_edt(eojs)
        return {
            0x82: b"\x01\x0e\x01\x00", 0x83: self.node_id, 0xBF: b"\x00\x00",
            0xD3: _u(len(eojs), 3), 0xD4: _u(len(classes) + 1, 2),
            0xD6: instance_list, 0xD7: bytes([len(classes)]) + b"".join(
                _u(c, 2) for c in classes),
        }

    @property
    def announce_map(self) -> frozenset[int]:
        """0x80 and the instance list notification 0xD5 (announced, never read)."""
        return frozenset({0x80, 0xD5})

    @property
    def get_map(self) -> frozenset[int]:
        """0x81 and 0x88 are device super-class properties; a node profile has neither."""
        return super().get_map - {0x81, 0x88}

    def read(self, epc: int) -> bytes | None:
        """Like any object, except 0x81/0x88."""
        return None if epc in (0x81, 0x88) else super().read(epc)


def instance_list_edt(eojs: Sequence[Eoj]) -> bytes:
    """EDT of 0xD5/0xD6: count then the EOJs."""
    return bytes([len(eojs)]) + b"".join(bytes(e) for e in eojs)


KINDS: dict[str, type[EmulatedObject]] = {
    cls.kind: cls for cls in (Aircon, Meter, Solar, Battery, Light, WaterHeater)
}


class EchonetNode:
    """One emulated ECHONET Lite node (node profile + device objects) on bind:3610, or on
    another FrameLink that `link` builds (the meter behind an emulated Wi-SUN dongle)."""

    def __init__(
        self,
        bind: str = "127.0.0.1",
        objects: Iterable[str | EmulatedObject] = ("aircon",),
        *,
        port: int = PORT,
        multicast: bool = False,
        unicast_inf: bool = True,
        node_id: bytes | None = None,
        clock: Clock = time.time,
        link: LinkFactory | None = None,
    ) -> None:
        self.bind = bind
        self.port = port
        self.unicast_inf = unicast_inf
        self.clock = clock
        instances: dict[int, itertools.count[int]] = {}
        self.objects: list[EmulatedObject] = []
        for item in objects:
            if isinstance(item, str):
                if item not in KINDS:
                    raise ValueError(f"unknown object {item!r}; choose from {', '.join(KINDS)}")
                cls = KINDS[item]
                counter = instances.setdefault(cls.class_code, itertools.count(1))
                item = cls(next(counter), clock=clock)
            self.objects.append(item)
        if node_id is None:
            try:
                packed = ipaddress.IPv4Address(bind).packed
            except ValueError:
                packed = b"\x00" * 4
            node_id = b"\xfe" + MAKER_CODE + packed + b"\x00" * 9
        self.profile = NodeProfile(node_id, self.objects, clock=clock)
        self.transport: FrameLink = (
            link(self._on_frame) if link is not None else EchonetTransport(
                self._on_frame, bind=bind, port=port, multicast=multicast,
                name=f"echonet node {bind}",
            )
        )
        self.peers: set[str] = set()
        self.handled = 0
        self._tids = itertools.cycle(range(0x10000))

    @property
    def all_objects(self) -> list[EmulatedObject]:
        """The node profile and the device objects."""
        return [self.profile, *self.objects]

    def object(self, which: str | Eoj) -> EmulatedObject:
        """The first object of a kind ('aircon') or the object with an EOJ."""
        for obj in self.all_objects:
            if obj.kind == which or obj.eoj == which:
                return obj
        raise KeyError(f"node {self.bind} has no object {which}")

    async def start(self) -> None:
        """Bind and announce the instance list (INF 0xD5)."""
        await self.transport.start()
        self._announce(self.profile, [Property(0xD5, instance_list_edt(
            [o.eoj for o in self.objects]))])

    async def stop(self) -> None:
        """Close the socket (the node 'unplugged')."""
        await self.transport.close()

    async def change(self, which: str | Eoj | EmulatedObject, epc: int, edt: bytes) -> None:
        """Change a value at the unit; announce it by INF when it is in the announce map."""
        obj = which if isinstance(which, EmulatedObject) else self.object(which)
        if obj.update(epc, edt) and epc in obj.announce_map:
            self._announce(obj, [Property(epc, edt)])

    def _announce(self, obj: EmulatedObject, props: list[Property]) -> None:
        frame = Frame(next(self._tids), obj.eoj, NODE_PROFILE, Esv.INF, tuple(props))
        # Once, as a real node does: controllers on the group would otherwise hear every
        # INF twice with the same TID.
        if self.transport.multicast_ok:
            self.transport.send_multicast(frame)
        elif self.unicast_inf:
            for peer in sorted(self.peers):
                self.transport.send(frame, peer)

    def _targets(self, deoj: Eoj) -> list[EmulatedObject]:
        if deoj.instance == 0:
            return [o for o in self.all_objects if o.eoj.class_code == deoj.class_code]
        return [o for o in self.all_objects if o.eoj == deoj]

    def _on_frame(self, frame: Frame, host: str) -> None:
        if not frame.esv.is_request:
            return  # answers and notifications of other nodes (multicast) are not for us
        self.handled += 1
        self.peers.add(host)
        for obj in self._targets(frame.deoj):
            self._serve(obj, frame, host)

    def _serve(self, obj: EmulatedObject, frame: Frame, host: str) -> None:
        esv = frame.esv
        changed: list[int] = []
        set_block: tuple[Property, ...] = ()
        set_ok = True
        if esv in (Esv.SETI, Esv.SETC, Esv.SETGET):
            set_block, set_ok = self._apply(obj, frame.props, changed)
        if esv is Esv.GET:
            block, ok = self._read(obj, frame.props)
            self._reply(frame, obj, Esv.GET_RES if ok else Esv.GET_SNA, block, host)
        elif esv is Esv.INF_REQ:
            block, ok = self._read(obj, frame.props)
            self._reply(frame, obj, Esv.INF if ok else Esv.INF_SNA, block, host)
        elif esv is Esv.SETC:
            self._reply(frame, obj, Esv.SET_RES if set_ok else Esv.SETC_SNA, set_block, host)
        elif esv is Esv.SETI and not set_ok:
            self._reply(frame, obj, Esv.SETI_SNA, set_block, host)
        elif esv is Esv.SETGET:
            get_block, get_ok = self._read(obj, frame.get_props or ())
            answer = Esv.SETGET_RES if set_ok and get_ok else Esv.SETGET_SNA
            self._reply(frame, obj, answer, set_block, host, get_block)
        announce = [Property(e, obj.values[e]) for e in changed if e in obj.announce_map]
        if announce:
            self._announce(obj, announce)

    @staticmethod
    def _apply(obj: EmulatedObject, props: Iterable[Property],
               changed: list[int]) -> tuple[tuple[Property, ...], bool]:
        out, ok = [], True
        for prop in props:
            before = obj.values.get(prop.epc)
            if obj.write(prop.epc, prop.edt):
                out.append(Property(prop.epc))
                if before != prop.edt:
                    changed.append(prop.epc)
            else:
                out.append(prop)  # a refused Set echoes its data
                ok = False
        return tuple(out), ok

    @staticmethod
    def _read(obj: EmulatedObject,
              props: Iterable[Property]) -> tuple[tuple[Property, ...], bool]:
        out, ok = [], True
        for prop in props:
            value = obj.read(prop.epc) if prop.epc in obj.get_map else None
            if value is None:
                out.append(Property(prop.epc))
                ok = False
            else:
                out.append(Property(prop.epc, value))
        return tuple(out), ok

    def _reply(self, request: Frame, obj: EmulatedObject, esv: Esv,
               props: tuple[Property, ...], host: str,
               get_props: tuple[Property, ...] | None = None) -> None:
        answer = Frame(request.tid, obj.eoj, request.seoj, esv, props, get_props)
        self.transport.send(answer, host)
