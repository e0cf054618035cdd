"""What a controller learns about a node once: its objects, property maps, maker and id."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.echonet.frame import NODE_PROFILE, Eoj, Esv, Frame, FrameError, Property
from integrations.echonet.mapping import DeviceMapping
from integrations.echonet.propmap import ANNOUNCE_MAP, GET_MAP, SET_MAP, decode_map
from integrations.echonet.protocol import INSTANCE_LIST_S, EchonetClient, parse_instance_list
from integrations.errors import DeviceUnreachable

IDENTIFICATION = 0x83
MAKER = 0x8A


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One device object of a node with its property maps."""

    eoj: Eoj
    get_map: frozenset[int]
    set_map: frozenset[int]
    announce_map: frozenset[int]
    maker: str = ""

    @property
    def mapping(self) -> DeviceMapping:
        """The hub view of this object."""
        return DeviceMapping.for_object(self.eoj.class_code, self.get_map, self.set_map)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node: address, stable id (0x83, or the address if it has none), maker, objects."""

    host: str
    node_id: str
    maker: str
    objects: tuple[ObjectInfo, ...]


def answered_values(frame: Frame) -> dict[int, bytes]:
    """EPC -> EDT of an answer (Get_Res, Get_SNA, INF); EPCs the node could not read are absent."""
    return frame.values()


def refused(answer: Frame) -> list[int]:
    """EPCs a Set answer refused (an SNA echoes their EDT; accepted ones have PDC 0)."""
    return [p.epc for p in answer.props if p.edt]


def object_info(eoj: Eoj, values: dict[int, bytes]) -> ObjectInfo:
    """Parse the property maps and maker out of one Get answer. Raises FrameError if malformed."""
    get_map = decode_map(values[GET_MAP]) if GET_MAP in values else frozenset()
    set_map = decode_map(values[SET_MAP]) if SET_MAP in values else frozenset()
    announce = decode_map(values[ANNOUNCE_MAP]) if ANNOUNCE_MAP in values else frozenset()
    maker = values.get(MAKER, b"").hex()
    return ObjectInfo(eoj, get_map, set_map, announce, maker)


def node_identity(host: str, values: dict[int, bytes]) -> tuple[str, str]:
    """(node id, maker) from the node profile's 0x83 and 0x8A; the address when 0x83 is absent."""
    ident = values.get(IDENTIFICATION)
    node_id = ident.hex() if ident and len(ident) == 17 else host
    return node_id, values.get(MAKER, b"").hex()


async def get(client: EchonetClient, host: str, eoj: Eoj, epcs: list[int]) -> dict[int, bytes]:
    """One Get frame for all EPCs; returns what the node could read (Get_SNA is partial)."""
    answer = await client.request(host, eoj, Esv.GET, [Property(e) for e in epcs])
    if answer is None:  # only a SetI returns None
        raise DeviceUnreachable(f"ECHONET node {host} did not answer")
    return answered_values(answer)


async def read_node(
    client: EchonetClient, host: str, instances: list[Eoj] | None = None
) -> NodeInfo:
    """Read a node's instance list (unless given), identity and every object's maps."""
    profile = await get(client, host, NODE_PROFILE, [INSTANCE_LIST_S, IDENTIFICATION, MAKER])
    if instances is None:
        if INSTANCE_LIST_S not in profile:
            raise FrameError(f"node {host} did not return its instance list (0xD6)")
        instances = parse_instance_list(profile[INSTANCE_LIST_S])
    node_id, maker = node_identity(host, profile)
    objects = []
    for eoj in instances:
        if eoj.group == 0x0E or eoj.class_code == 0x05FF:  # profiles, other controllers
            continue
        values = await get(client, host, eoj, [GET_MAP, SET_MAP, ANNOUNCE_MAP, MAKER])
        objects.append(object_info(eoj, values))
    return NodeInfo(host, node_id, maker, tuple(objects))
