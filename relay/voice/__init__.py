"""Voice assistants on the relay: Alexa Smart Home v3 and Google Smart Home, from the device model.

Pure payload builders live in `alexa` and `google`; `handle_alexa` / `handle_google` answer a
request for one account through a `VoiceBackend` (the relay's cache and routing).
"""

from relay.voice.backend import ApplyFailure, ApplyResult, ApplyStatus, HubDevices, VoiceBackend
from relay.voice.change_reports import (
    ChangeReportSender,
    LoggingChangeReportSender,
    RecordingChangeReportSender,
)
from relay.voice.devices import VoiceDevice, endpoint_id, split_endpoint_id
from relay.voice.dispatch import account_devices, handle_alexa, handle_google, is_disconnect
from relay.voice.errors import VoiceError

__all__ = [
    "ApplyFailure",
    "ApplyResult",
    "ApplyStatus",
    "ChangeReportSender",
    "HubDevices",
    "LoggingChangeReportSender",
    "RecordingChangeReportSender",
    "VoiceBackend",
    "VoiceDevice",
    "VoiceError",
    "account_devices",
    "endpoint_id",
    "handle_alexa",
    "handle_google",
    "is_disconnect",
    "split_endpoint_id",
]
