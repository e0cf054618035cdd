"""Errors of the voice skills, each knowing how Alexa and Google name it.

VoiceError (a RelayError)
 ├── NoSuchEndpoint       the device is not in the caller's account (or no longer exists)
 ├── EndpointUnreachable  the hub or the device is offline
 ├── InvalidDirective     a directive we cannot parse or do not support for this device
 ├── InvalidValue         a value of the wrong kind (e.g. a fan speed the device lacks)
 ├── ValueOutOfRange      a number outside the property's range (`minimum`, `maximum`)
 ├── TemperatureOutOfRange  the same for set points (°C)
 ├── UnsupportedMode      a thermostat mode the device does not have
 ├── ThermostatIsOff      a set-point change while the air conditioner is off
 ├── EndpointBusy         the hub is busy or slow; try again
 └── InternalError        anything else the hub reported

Unauthorized (relay.errors)
 ├── TokenInvalid         an OAuth access token that is unknown or revoked
 └── TokenExpired         an OAuth access token past its lifetime
"""

from __future__ import annotations

from relay.errors import RelayError, Unauthorized


class VoiceError(RelayError):
    """Root of voice errors: `alexa_type` and `google_code` name it for each assistant."""

    alexa_type = "INTERNAL_ERROR"
    alexa_namespace = "Alexa"
    google_code = "hardError"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> None:
        super().__init__(message)
        self.minimum = minimum
        self.maximum = maximum


class NoSuchEndpoint(VoiceError):
    """The endpoint is not one of the caller's devices."""

    alexa_type = "NO_SUCH_ENDPOINT"
    google_code = "deviceNotFound"
    status = 404


class EndpointUnreachable(VoiceError):
    """The hub or the device is offline."""

    alexa_type = "ENDPOINT_UNREACHABLE"
    google_code = "deviceOffline"
    status = 503


class InvalidDirective(VoiceError):
    """A directive that is malformed or not supported for this device."""

    alexa_type = "INVALID_DIRECTIVE"
    google_code = "functionNotSupported"
    status = 400


class InvalidValue(VoiceError):
    """A value of the wrong kind."""

    alexa_type = "INVALID_VALUE"
    google_code = "valueOutOfRange"
    status = 422


class ValueOutOfRange(VoiceError):
    """A number outside the property's range."""

    alexa_type = "VALUE_OUT_OF_RANGE"
    google_code = "valueOutOfRange"
    status = 422


class TemperatureOutOfRange(ValueOutOfRange):
    """A set point outside the device's range (°C)."""

    alexa_type = "TEMPERATURE_VALUE_OUT_OF_RANGE"


class UnsupportedMode(VoiceError):
    """A thermostat mode the device does not offer."""

    alexa_type = "UNSUPPORTED_THERMOSTAT_MODE"
    alexa_namespace = "Alexa.ThermostatController"
    google_code = "notSupported"
    status = 422


class ThermostatIsOff(VoiceError):
    """A set-point change while the unit is off."""

    alexa_type = "THERMOSTAT_IS_OFF"
    alexa_namespace = "Alexa.ThermostatController"
    google_code = "deviceTurnedOff"
    status = 409


class EndpointBusy(VoiceError):
    """The hub is busy or did not answer in time."""

    alexa_type = "ENDPOINT_BUSY"
    google_code = "deviceBusy"
    status = 503


class InternalError(VoiceError):
    """The hub reported a failure we cannot name more precisely."""


class DualSetpointsUnsupported(VoiceError):
    """A dual or triple set point for a single-point unit."""

    alexa_type = "DUAL_SETPOINTS_UNSUPPORTED"
    alexa_namespace = "Alexa.ThermostatController"
    google_code = "notSupported"
    status = 422


class TripleSetpointsUnsupported(DualSetpointsUnsupported):
    """A set point with lower and upper bounds for a single-point unit."""

    alexa_type = "TRIPLE_SETPOINTS_UNSUPPORTED"


class TokenInvalid(Unauthorized):
    """An OAuth access token that is unknown or revoked."""


class TokenExpired(Unauthorized):
    """An OAuth access token past its lifetime (the assistant should refresh it)."""
