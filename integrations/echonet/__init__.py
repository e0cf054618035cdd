"""ECHONET Lite: frame codec, UDP transport, controller, hub integration and node emulator.

    from integrations.echonet import EchonetIntegration, EchonetNode
"""

from integrations.echonet.controller import NodeInfo, ObjectInfo, read_node
from integrations.echonet.emulator import KINDS, EchonetNode, EmulatedObject
from integrations.echonet.frame import Eoj, Esv, Frame, FrameError, Property, decode, encode
from integrations.echonet.integration import EchonetConfig, EchonetIntegration
from integrations.echonet.mapping import DeviceMapping
from integrations.echonet.propmap import decode_map, encode_map
from integrations.echonet.protocol import EchonetClient
from integrations.echonet.selfnode import SelfNode
from integrations.echonet.transport import MULTICAST_GROUP, PORT, EchonetTransport, FrameLink

__all__ = [
    "KINDS",
    "MULTICAST_GROUP",
    "PORT",
    "DeviceMapping",
    "EchonetClient",
    "EchonetConfig",
    "EchonetIntegration",
    "EchonetNode",
    "EchonetTransport",
    "EmulatedObject",
    "Eoj",
    "Esv",
    "Frame",
    "FrameError",
    "FrameLink",
    "NodeInfo",
    "ObjectInfo",
    "Property",
    "SelfNode",
    "decode",
    "decode_map",
    "encode",
    "encode_map",
    "read_node",
]
