"""Helpers for the MQTT tests: broker addresses, a plain client, a condition poller."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from integrations.mqtt.config import BrokerSettings


@dataclass(frozen=True)
class BrokerAddress:
    """Where the test broker listens."""

    host: str
    port: int

    def settings(self, **changes: Any) -> BrokerSettings:
        """Broker settings for the integration, with a quick reconnect for tests."""
        return BrokerSettings(host=self.host, port=self.port, **changes)

    def section(self, **extra: Any) -> dict[str, Any]:
        """An [integrations.mqtt] config section for this broker."""
        return {"host": self.host, "port": self.port, **extra}


def prefix() -> str:
    """A unique topic prefix for one test (tests share the session broker)."""
    return f"t{secrets.token_hex(4)}"


async def wait_for(condition: Callable[[], Any], timeout: float = 15.0,
                   what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; return its value (fails after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def until(client: Any, path: str, check: Callable[[Any], Any], what: str,
                timeout: float = 15.0) -> Any:
    """GET `path` from the hub API until `check(body)` holds; return the body."""
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        resp = await client.get(path)
        if resp.status_code == 200:
            body = resp.json()
            if check(body):
                return body
        await asyncio.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}; last: {body}")


def reported(shadow: Any, name: str) -> Any:
    """A reported value from a shadow body (None when absent)."""
    return shadow["reported"].get(name, {}).get("value")


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


async def publish_qos1_retransmitted(host: str, port: int, topic: str, payload: bytes) -> None:
    """Publish at QoS 1, then send the same PUBLISH again with the DUP flag and the same packet
    id, as MQTT 3.1.1 §4.4 has a client do when it missed the PUBACK. A broker forwards both."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        variable = _string("MQTT") + bytes([4, 0x02]) + (30).to_bytes(2, "big")
        body = variable + _string(f"retransmitter-{secrets.token_hex(3)}")
        writer.write(bytes([0x10]) + _remaining_length(len(body)) + body)
        connack = await asyncio.wait_for(reader.readexactly(4), 5)
        assert connack == b"\x20\x02\x00\x00", connack
        packet_id = (4242).to_bytes(2, "big")
        body = _string(topic) + packet_id + payload
        for first_byte in (0x32, 0x3A):  # QoS 1; QoS 1 with DUP
            writer.write(bytes([first_byte]) + _remaining_length(len(body)) + body)
            await writer.drain()
        for _ in range(2):
            puback = await asyncio.wait_for(reader.readexactly(4), 5)
            assert puback == b"\x40\x02" + packet_id, puback
        writer.write(b"\xe0\x00")  # DISCONNECT
        await writer.drain()
    finally:
        writer.close()
