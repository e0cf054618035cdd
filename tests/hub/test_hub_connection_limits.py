"""Slow and half-open clients against a real `homehub hub` process (issue 12, point 2)."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from pathlib import Path

import httpx
from hub_process import VIRTUAL_CONFIG, start_hub

LIMITS = """
header_timeout_s = 2.0
body_timeout_s = 1.5
"""


def _files_1024() -> None:
    # soft = hard = 1024: the hub cannot raise its limit and must live within it.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def _config(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "homehub.toml").write_text(VIRTUAL_CONFIG.replace("[api]", "[api]" + LIMITS))


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_half_open_flood_over_the_file_limit_leaves_the_hub_answering(
    tmp_path: Path,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    _config(tmp_path)
    output: list[str] = []
    proc, url = await start_hub(tmp_path, preexec_fn=_files_1024, output=output)
    host, port = url.removeprefix("http://").split(":")
    held: list[asyncio.StreamWriter] = []
    try:
        for _ in range(11):  # 1,100 connections that never send a byte
            batch = await asyncio.gather(
                *(asyncio.open_connection(host, int(port)) for _ in range(100)),
                return_exceptions=True,
            )
            held += [w for r, w in (b for b in batch if isinstance(b, tuple))]
        assert len(held) >= 1000
        async with httpx.AsyncClient(timeout=5.0) as client:
            t0 = time.monotonic()
            resp = await client.get(f"{url}/api/v1/health")
            assert resp.status_code == 200
            assert time.monotonic() - t0 < 3.0
        await asyncio.sleep(1.0)
        assert proc.returncode is None
        log = "".join(output)
        assert "Traceback" not in log, log[-3000:]
        assert log.count("out of system resource") <= 1
        # One rate-limited line about the cut connections, not one per connection.
        assert log.count("connections are open") <= 2, log[-3000:]
    finally:
        for writer in held:
            writer.close()
        await _stop(proc)


async def test_slow_headers_and_slow_bodies_are_cut(tmp_path: Path) -> None:
    _config(tmp_path)
    proc, url = await start_hub(tmp_path)
    host, port = url.removeprefix("http://").split(":")
    try:
        # Headers that never finish: the connection is closed after the header deadline.
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n")
        t0 = time.monotonic()
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 10) == b""
        assert 1.5 < time.monotonic() - t0 < 5.0
        writer.close()

        # A body that trickles: 408 with a reason once the body deadline passes.
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /api/v1/pair HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"code": '
        )
        t0 = time.monotonic()
        answer = b""
        while b"within" not in answer:  # aiohttp may linger on the rest of the body: no EOF
            chunk = await asyncio.wait_for(reader.read(4096), 10)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive within" in answer
        assert time.monotonic() - t0 < 5.0
        writer.close()

        async with httpx.AsyncClient(timeout=5.0) as client:
            assert (await client.get(f"{url}/api/v1/health")).status_code == 200
    finally:
        await _stop(proc)
