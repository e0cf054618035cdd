"""The shared vocabulary and the small interface that integrations implement.

This package is the only part of ``hub`` that integrations may import.
"""

from hub.model.device import (
    CAPABILITIES,
    IR_LEARN,
    IR_SEND,
    DeviceDescription,
    DiscoveredDevice,
    make_device_id,
)
from hub.model.errors import CommandFailed, DeviceUnreachable, IntegrationError
from hub.model.integration import HubPort, Integration, IrLearner
from hub.model.vocabulary import (
    VOCABULARY,
    PropertySpec,
    PropertyValueError,
    ValueType,
    base_name,
    raw_property,
    spec_for,
)

__all__ = [
    "CAPABILITIES",
    "IR_LEARN",
    "IR_SEND",
    "VOCABULARY",
    "CommandFailed",
    "DeviceDescription",
    "DeviceUnreachable",
    "DiscoveredDevice",
    "HubPort",
    "Integration",
    "IntegrationError",
    "IrLearner",
    "PropertySpec",
    "PropertyValueError",
    "ValueType",
    "base_name",
    "make_device_id",
    "raw_property",
    "spec_for",
]
