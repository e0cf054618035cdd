"""A short control connection: get a claim code with the hub's identity, hub running or not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from hub.relay_link.client import LinkError, tunnel_url
from hub.relay_link.identity import HubIdentity
from relay import protocol as p


async def fetch_claim_code(
    relay_url: str, identity: HubIdentity, local_id: str = "", name: str = "", timeout: float = 15
) -> p.ClaimCode:
    """Connect as a control link, ask for one claim code, disconnect."""
    async with asyncio.timeout(timeout), aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(tunnel_url(relay_url), max_msg_size=p.MAX_FRAME_BYTES)
        except aiohttp.WSServerHandshakeError as err:
            raise LinkError(f"relay answered {err.status}: {err.message}") from err
        async with ws:
            challenge = p.decode(await ws.receive_str())
            if not isinstance(challenge, p.Challenge):
                raise LinkError(f"expected a challenge, got {challenge.t}")
            await ws.send_str(
                p.encode(identity.auth(challenge.nonce, local_id, name, p.PURPOSE_CONTROL))
            )
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise LinkError(f"the relay refused this hub ({ws.close_code}: {msg.extra})")
            if not isinstance(p.decode(msg.data), p.Welcome):
                raise LinkError("the relay did not welcome this hub")
            await ws.send_str(p.encode(p.ClaimCodeRequest(1)))
            answer = p.decode(await ws.receive_str())
            if not isinstance(answer, p.ClaimCode):
                raise LinkError(f"the relay did not give a claim code ({answer.t})")
            return answer


async def claim_code_for_data_dir(relay_url: str, data_dir: Path) -> p.ClaimCode:
    """The CLI path: use the identity in the hub's data directory."""
    identity = await HubIdentity.load_or_create_async(data_dir)
    return await fetch_claim_code(relay_url, identity)
