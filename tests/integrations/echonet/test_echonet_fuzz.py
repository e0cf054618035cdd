"""Random but well-formed frames never break the emulator or the integration's listener."""

from __future__ import annotations

import pytest
from echonet_testkit import RecordingHub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.echonet.emulator import KINDS, EchonetNode
from integrations.echonet.frame import CONTROLLER, Eoj, Esv, Frame, Property, encode
from integrations.echonet.integration import EchonetIntegration

NODE = "127.0.36.70"
HUB = "127.0.36.71"

props = st.lists(st.builds(Property, st.integers(0x80, 0xFF), st.binary(max_size=6)),
                 min_size=1, max_size=5).map(tuple)
objects = st.sampled_from([Eoj(0x01, 0x30, 1), Eoj(0x02, 0x88, 1), Eoj(0x02, 0x79, 1),
                           Eoj(0x02, 0x7D, 1), Eoj(0x02, 0x90, 1), Eoj(0x02, 0x6B, 1),
                           Eoj(0x0E, 0xF0, 1), Eoj(0x0E, 0xF0, 0), Eoj(0x01, 0x30, 0)])


@st.composite
def requests(draw: st.DrawFn) -> Frame:
    esv = draw(st.sampled_from([Esv.GET, Esv.SETC, Esv.SETI, Esv.INF_REQ, Esv.SETGET]))
    second = draw(props) if esv is Esv.SETGET else None
    return Frame(draw(st.integers(0, 0xFFFF)), CONTROLLER, draw(objects), esv, draw(props),
                 second)


@st.composite
def notifications(draw: st.DrawFn) -> Frame:
    return Frame(draw(st.integers(0, 0xFFFF)), draw(objects), CONTROLLER,
                 draw(st.sampled_from([Esv.INF, Esv.INFC])), draw(props))


async def test_emulator_answers_any_request_without_crashing() -> None:
    node = EchonetNode(bind=NODE, objects=list(KINDS))
    await node.start()
    try:
        @settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture],
                  deadline=None)
        @given(requests())
        def run(frame: Frame) -> None:
            before = node.transport.stats.sent
            node.transport.datagram_received(encode(frame), HUB)
            if frame.esv in (Esv.GET, Esv.SETC, Esv.INF_REQ, Esv.SETGET):
                assert node.transport.stats.sent > before  # every such request is answered

        run()
        assert node.transport.stats.malformed == 0
    finally:
        await node.stop()


async def test_integration_survives_random_notifications(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = EchonetNode(bind=NODE, objects=list(KINDS))
    await node.start()
    hub = RecordingHub()
    integ = EchonetIntegration()
    await integ.setup(hub, {"bind": HUB, "hosts": [NODE], "multicast": False,
                            "poll_interval_s": 3600, "timeout_s": 2, "retries": 1})
    try:
        await integ.discover()
        assert len(hub.devices) == 6

        @settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture],
                  deadline=None)
        @given(notifications())
        def run(frame: Frame) -> None:
            integ.client.transport.datagram_received(encode(frame), NODE)

        run()
        await integ.settle()  # the reports and re-reads the notifications started
        assert not [r for r in caplog.records
                    if r.levelname == "ERROR" and r.name.startswith("integrations.echonet")]
        for device_id, values in hub.reported.items():
            spec = hub.devices[device_id].properties
            for name, value in values.items():
                assert spec[name].validate(value) == value
    finally:
        await integ.shutdown()
        await node.stop()
