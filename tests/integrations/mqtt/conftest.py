"""Fixtures for the MQTT tests: a private Mosquitto per test session (and per test where a test
restarts or reconfigures it). Without the mosquitto binary the tests use 127.0.0.1:1883 when a
broker answers there, and skip with a message otherwise."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_testkit import BrokerAddress

from integrations.mqtt.broker import MosquittoBroker, mosquitto_binary


def _system_broker() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1.0).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAddress]:
    """A broker shared by the session's tests (each test uses its own topic prefix)."""
    if mosquitto_binary() is None:
        if _system_broker():
            yield BrokerAddress("127.0.0.1", 1883)
            return
        pytest.skip("no mosquitto binary and no broker on 127.0.0.1:1883 "
                    "(apt-get install mosquitto)")
    own = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    own.start_sync()
    try:
        yield BrokerAddress(own.host, own.port)
    finally:
        own.stop_sync()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker for one test (to restart it, or to configure TLS and passwords)."""
    if mosquitto_binary() is None:
        pytest.skip("this test starts its own broker: install mosquitto")
    own = MosquittoBroker(tmp_path / "mosquitto")
    yield own
    own.stop_sync()
