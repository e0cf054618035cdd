"""The recovery key: words (BIP-39 vectors), the age string (checked by pyrage, an independent
implementation of age), and the API that shows it once, never through the relay."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest
from backup_env import home

from hub.api.messages import ApiRequest
from hub.backup import BadRecoveryKey, RecoveryKey
from hub.backup.sealed import seal
from integrations.broadlink.emulator import BroadlinkEmulator

# From the BIP-39 reference vectors (trezor/python-mnemonic vectors.json, 256-bit entropy).
BIP39 = {
    bytes(32): "abandon " * 23 + "art",
    bytes([0x7F] * 32): "legal winner thank year wave sausage worth useful legal winner thank "
    "year wave sausage worth useful legal winner thank year wave sausage worth title",
    bytes([0xFF] * 32): "zoo " * 23 + "vote",
}


@pytest.mark.parametrize("secret", list(BIP39))
def test_words_follow_bip39(secret: bytes) -> None:
    key = RecoveryKey(secret)
    assert " ".join(key.words) == BIP39[secret]
    assert RecoveryKey.parse(BIP39[secret].upper() + "\n") == key


def test_the_age_string_and_recipient_agree_with_pyrage(tmp_path: Path) -> None:
    for _ in range(5):
        key = RecoveryKey.generate()
        identity = pyrage.x25519.Identity.from_str(key.identity)
        assert str(identity.to_public()) == key.recipient
        assert RecoveryKey.parse(str(identity)) == key
        assert RecoveryKey.parse(" ".join(key.words)) == key
    # pyrage's own key, read by us: the same recipient.
    theirs = pyrage.x25519.Identity.generate()
    assert RecoveryKey.parse(str(theirs)).recipient == str(theirs.to_public())
    # What we seal, pyrage opens with the key string alone.
    plain = tmp_path / "plain"
    plain.write_bytes(b"home state " * 1000)
    sealed = tmp_path / "sealed.age"
    seal(plain, sealed, key.public())
    assert pyrage.decrypt(sealed.read_bytes(), [identity]) == plain.read_bytes()


def test_mistakes_in_the_key_are_caught_with_a_reason() -> None:
    key = RecoveryKey(bytes(range(32)))
    words = key.words
    swapped = [*words[:-1], "zoo" if words[-1] != "zoo" else "abandon"]
    with pytest.raises(BadRecoveryKey, match="checksum"):
        RecoveryKey.parse(" ".join(swapped))
    with pytest.raises(BadRecoveryKey, match="24 words; got 23"):
        RecoveryKey.parse(" ".join(words[:-1]))
    with pytest.raises(BadRecoveryKey, match="spelling"):
        RecoveryKey.parse(" ".join(["abandonn", *words[1:]]))
    text = key.identity
    typo = text[:-3] + ("Q" if text[-3] != "Q" else "P") + text[-2:]
    with pytest.raises(BadRecoveryKey, match="check each character"):
        RecoveryKey.parse(typo)
    with pytest.raises(BadRecoveryKey, match="no recovery key"):
        RecoveryKey.parse("   ")
    assert key.vault_id == RecoveryKey.parse(text.lower()).vault_id  # derived, stable


async def test_the_api_shows_the_key_once_and_only_on_the_lan(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator("127.0.0.119", port=0)
    await emulator.start()
    try:
        async with home(tmp_path, emulator) as h:
            assert (await h.client.get("/api/v1/backups/recovery-key")).json() == {
                "configured": False
            }
            # Through the relay, the key would pass through the relay: refused.
            via_relay = await h.rh.hub.router.dispatch(
                ApiRequest(
                    "POST",
                    "/api/v1/backups/recovery-key",
                    body=b"{}",
                    trusted_principal="relay:acct_1",
                )
            )
            assert via_relay.status == 403
            r = await h.client.post("/api/v1/backups/recovery-key", json={})
            assert r.status_code == 201, r.text
            shown = r.json()
            key = RecoveryKey.parse(" ".join(shown["words"]))
            assert key.identity == shown["key"] and key.recipient == shown["recipient"]
            info = (await h.client.get("/api/v1/backups/recovery-key")).json()
            assert info["configured"] and info["recipient"] == key.recipient
            assert "words" not in info and "key" not in info
            again = await h.client.post("/api/v1/backups/recovery-key", json={})
            assert again.status_code == 409
            r = await h.client.post("/api/v1/backups/recovery-key", json={"replace": True})
            assert r.status_code == 201 and r.json()["key"] != shown["key"]
            # The database holds only public values.
            rows = await h.rh.hub.db.fetchall("SELECT value FROM kv WHERE key LIKE 'backup%'")
            stored = json.dumps(rows)
            assert r.json()["key"] not in stored and r.json()["words"][0] not in stored.split('"')
            restore = await h.rh.hub.router.dispatch(
                ApiRequest(
                    "POST",
                    "/api/v1/backups/x/restore",
                    body=b"{}",
                    trusted_principal="relay:acct_1",
                )
            )
            assert restore.status == 403
    finally:
        await emulator.stop()
