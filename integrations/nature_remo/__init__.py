"""Nature Remo devices as local IR blasters: their local HTTP API, found over mDNS.

    from integrations.nature_remo import NatureRemoIntegration, RemoEmulator
"""

from integrations.nature_remo.client import RemoClient
from integrations.nature_remo.config import DOMAIN, RemoAddress, Settings
from integrations.nature_remo.emulator import RemoEmulator
from integrations.nature_remo.integration import NatureRemoIntegration, remo_device_id
from integrations.nature_remo.mdns import REMO_SERVICE_TYPE, RemoAdvertisement
from integrations.nature_remo.signal import RemoSignal, packet_from_signal, signal_for

__all__ = [
    "DOMAIN",
    "REMO_SERVICE_TYPE",
    "NatureRemoIntegration",
    "RemoAddress",
    "RemoAdvertisement",
    "RemoClient",
    "RemoEmulator",
    "RemoSignal",
    "Settings",
    "packet_from_signal",
    "remo_device_id",
    "signal_for",
]
