"""The hub's relay identity: an Ed25519 keypair kept in the data directory (mode 0600).

The relay stores only the public key, so nothing on the relay can act as this hub.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relay import protocol as p

KEY_FILE = "relay_identity.key"


class HubIdentity:
    """A private key and what the relay knows about it."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key_raw = raw
        self.public_key = p.b64(raw)
        self.relay_hub_id = p.hub_id_for(raw)

    @classmethod
    def generate(cls) -> HubIdentity:
        """A fresh identity (tests, benches)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> HubIdentity:
        """Read `<data_dir>/relay_identity.key`, creating it on first use (blocking I/O)."""
        path = Path(data_dir) / KEY_FILE
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != 32:
                raise ValueError(f"{path} is damaged; delete it to make a new hub identity")
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        key = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        return cls(key)

    @classmethod
    async def load_or_create_async(cls, data_dir: Path) -> HubIdentity:
        """load_or_create in a worker thread."""
        return await asyncio.to_thread(cls.load_or_create, data_dir)

    def auth(self, nonce: str, local_id: str, name: str, purpose: str) -> p.Auth:
        """The signed answer to a relay's challenge."""
        signature = self._key.sign(p.auth_payload(nonce, self.public_key))
        return p.Auth(
            self.public_key, p.b64(signature), local_id, name, p.PROTOCOL_VERSION, purpose
        )
