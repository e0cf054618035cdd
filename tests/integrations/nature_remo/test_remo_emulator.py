"""The emulated Remo's local API over a real socket, spoken to with the standard library's
HTTP client (not ours), the way other tools talk to a Remo; then our client against it:
retries on busy and rate-limited answers, and clear errors when it gives up.

Address 127.0.0.80 belongs to this module (ephemeral ports).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from remo_testkit import decoded, nec

from integrations.errors import CommandFailed, DeviceUnreachable
from integrations.nature_remo import RemoClient, RemoEmulator, RemoSignal

HOST = "127.0.0.80"


@pytest.fixture
async def remo() -> AsyncIterator[RemoEmulator]:
    em = RemoEmulator(HOST, 0)
    await em.start()
    try:
        yield em
    finally:
        await em.stop()


def _http(port: int, method: str, body: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, "/messages", body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), dict(resp.getheaders())
    finally:
        conn.close()


async def request(port: int, method: str, body: Any = None, *, header: bool = True,
               ) -> tuple[int, str, dict[str, str]]:
    """One request like curl or a shell script makes it (text body, no JSON content type)."""
    headers = {"X-Requested-With": "curl"} if header else {}
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return await asyncio.to_thread(_http, port, method, text, headers)


async def test_get_and_post_messages_as_the_device_answers(remo: RemoEmulator) -> None:
    status, text, _ = await request(remo.port, "GET")
    assert status == 200 and json.loads(text)["data"] == []  # nothing heard yet
    remo.hear(nec(0x04, 0x08))
    status, text, _ = await request(remo.port, "GET")
    body = json.loads(text)
    assert status == 200 and (body["format"], body["freq"]) == ("us", 38)
    assert decoded(RemoSignal(38, tuple(body["data"]))) == ("NEC", 0x04, 0x08)

    status, _, _ = await request(remo.port, "POST", nec(0x10, 0x20).to_json())
    assert status == 200
    (sent,) = remo.sent
    assert decoded(sent) == ("NEC", 0x10, 0x20)


async def test_missing_header_is_refused_as_the_device_does(remo: RemoEmulator) -> None:
    remo.hear(nec(0x04, 0x08))
    status, text, _ = await request(remo.port, "GET", header=False)
    assert status == 400 and "X-Requested-With" in text
    status, _, _ = await request(remo.port, "POST", nec(0x10, 0x20).to_json(), header=False)
    assert status == 400
    assert remo.sent == []  # refused means not sent


async def test_bad_bodies_are_refused_and_nothing_is_sent(remo: RemoEmulator) -> None:
    for bad in ["not json", {"format": "us", "freq": 38, "data": []},
                {"format": "us", "freq": 38, "data": [100, "x"]}, {"format": "ms", "data": [1]}]:
        status, _, _ = await request(remo.port, "POST", bad)
        assert status == 400, bad
    assert remo.sent == []


async def test_one_request_at_a_time_the_second_is_told_busy(remo: RemoEmulator) -> None:
    long_signal = RemoSignal(38, (600,) * 1000)  # 0.6 s on the air
    first = asyncio.create_task(request(remo.port, "POST", long_signal.to_json()))
    await asyncio.sleep(0.2)
    status, _, _ = await request(remo.port, "GET")
    assert status == 503
    assert (await first)[0] == 200
    assert (await request(remo.port, "GET"))[0] == 200  # free again


async def test_rate_limit_answers_429_with_retry_after(remo: RemoEmulator) -> None:
    remo.rate_limit = (2, 1.0)
    assert [(await request(remo.port, "GET"))[0] for _ in range(2)] == [200, 200]
    status, _, headers = await request(remo.port, "GET")
    assert status == 429 and 0 < float(headers["Retry-After"]) <= 1.0


async def test_two_captures_of_the_same_button_differ(remo: RemoEmulator) -> None:
    remo.jitter_us = 0
    remo.hear(nec(0x04, 0x08))
    first = remo.received
    remo.hear(nec(0x04, 0x08))
    assert remo.received != first
    assert remo.received is not None and decoded(remo.received) == ("NEC", 0x04, 0x08)


# --- our client ------------------------------------------------------------------------------

async def test_client_waits_out_a_busy_remo(remo: RemoEmulator) -> None:
    client = RemoClient(HOST, remo.port, backoff_s=0.1)
    other = RemoClient(HOST, remo.port)  # another app using the same Remo
    try:
        hog = asyncio.create_task(other.send(RemoSignal(38, (600,) * 1000)))
        await asyncio.sleep(0.2)
        await client.send(nec(0x04, 0x08))
        await hog
        assert [decoded(s)[2] for s in remo.sent[-1:]] == [0x08]
        assert ("POST", 503) in remo.requests  # it was told busy, and tried again
    finally:
        await client.close()
        await other.close()


async def test_client_honours_retry_after_then_succeeds(remo: RemoEmulator) -> None:
    remo.rate_limit = (1, 0.5)
    client = RemoClient(HOST, remo.port)
    try:
        await client.last_received()
        started = time.monotonic()
        await client.send(nec(0x04, 0x08))
        assert time.monotonic() - started >= 0.3  # it waited for the window to pass
        # told when to come back, it comes back then and is let in: one refusal, not several
        assert remo.requests[1:] == [("POST", 429), ("POST", 200)], remo.requests
    finally:
        await client.close()


async def test_probe_asks_once_and_a_throttled_remo_counts_as_there(remo: RemoEmulator) -> None:
    remo.rate_limit = (1, 5.0)
    client = RemoClient(HOST, remo.port)
    try:
        assert await client.probe() == 200
        assert await client.probe() == 429  # at once: no backoff spent on a reachability check
        assert remo.requests == [("GET", 200), ("GET", 429)]
    finally:
        await client.close()


async def test_client_gives_up_with_a_reason(remo: RemoEmulator) -> None:
    remo.refuse_all_with = 503
    client = RemoClient(HOST, remo.port, name="Remo-TEST01", retries=2, backoff_s=0.01)
    try:
        with pytest.raises(CommandFailed, match=r"Remo-TEST01 .* stayed busy \(503\) through 3 "):
            await client.send(nec(0x04, 0x08))
        assert remo.requests == [("POST", 503)] * 3
        remo.refuse_all_with = 404
        with pytest.raises(CommandFailed, match="Remo nano"):
            await client.last_received()
    finally:
        await client.close()


async def test_client_reports_a_remo_that_is_gone(remo: RemoEmulator) -> None:
    client = RemoClient(HOST, remo.port, timeout=2)
    try:
        await remo.stop()
        with pytest.raises(DeviceUnreachable, match=r"connection refused.*powered"):
            await client.send(nec(0x04, 0x08))
        await remo.start()  # back on the same port
        await client.send(nec(0x04, 0x08))
        assert len(remo.sent) == 1
    finally:
        await client.close()


async def test_client_learns_the_next_signal_and_times_out_clearly(remo: RemoEmulator) -> None:
    remo.hear(nec(0x01, 0x01))  # heard before learning began: not the one we want
    client = RemoClient(HOST, remo.port, learn_poll_s=0.05)
    seen: list[float] = []
    try:
        learning = asyncio.create_task(client.learn(10, lambda e, r: seen.append(r)))
        await asyncio.sleep(0.3)
        assert not learning.done()
        remo.hear(nec(0x04, 0x55))
        assert decoded(await learning) == ("NEC", 0x04, 0x55)
        assert seen and seen[0] <= 10
        with pytest.raises(CommandFailed, match=r"timed out.*press the button again"):
            await client.learn(0.3)
    finally:
        await client.close()
