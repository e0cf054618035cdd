"""The owner's recovery key: the only thing that can open an off-site backup.

The key is an X25519 secret in the `age` format (https://age-encryption.org/v1), so a backup
can also be opened with the standard `age` tool. People see it two ways, once, at setup:

* 24 English words (BIP-39, with its checksum: a mistyped word is caught, not guessed), and
* the age identity string ``AGE-SECRET-KEY-1...``: upper-case bech32, which a QR code holds in
  its compact alphanumeric mode.

The hub keeps only public values: the age recipient (``age1...``) it encrypts to, and the public
half of a "vault key" derived from the secret, with which a new machine that knows the recovery
key proves to the relay that it may download the backups (no account password needed).
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import Invalid

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from mnemonic import Mnemonic

# cryptography and the word list (about 9 MB together) load when a key is first used: every
# hub imports this module to check for backups, few ever hold a key in memory.

SECRET_HRP = "age-secret-key-"
PUBLIC_HRP = "age"
_VAULT_INFO = b"homehub-backup-vault-v1"
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


@functools.cache
def _words() -> Mnemonic:
    from mnemonic import Mnemonic

    return Mnemonic("english")


class BadRecoveryKey(Invalid):
    """The words or string given as a recovery key are not one; the message says what is off."""


# ---------------------------------------------------------------------------- bech32 (BIP-173)
def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: bytes | list[int], src: int, dst: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for value in data:
        acc = (acc << src) | value
        bits += src
        while bits >= dst:
            bits -= dst
            out.append((acc >> bits) & ((1 << dst) - 1))
    if pad and bits:
        out.append((acc << (dst - bits)) & ((1 << dst) - 1))
    elif not pad and (bits >= src or (acc << (dst - bits)) & ((1 << dst) - 1)):
        raise ValueError("bad padding")
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    """`data` as bech32 with the human-readable part `hrp` (lower case)."""
    words = _regroup(data, 8, 5, True)
    poly = _polymod([*_hrp_expand(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(hrp, data) of a bech32 string in one case; ValueError when it is not valid."""
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed case")
    text = text.lower()
    hrp, sep, rest = text.rpartition("1")
    if not sep or not hrp or len(rest) < 6 or any(c not in _CHARSET for c in rest):
        raise ValueError("not bech32")
    words = [_CHARSET.index(c) for c in rest]
    if _polymod([*_hrp_expand(hrp), *words]) != 1:
        raise ValueError("checksum does not match (a character is wrong)")
    return hrp, bytes(_regroup(words[:-6], 5, 8, False))


# ---------------------------------------------------------------------------- the key
@dataclass(frozen=True, slots=True)
class RecoveryKey:
    """The secret (32 bytes) and every public value derived from it."""

    secret: bytes

    @classmethod
    def generate(cls) -> RecoveryKey:
        """A new random key."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        private = X25519PrivateKey.generate()
        return cls(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def parse(cls, text: str) -> RecoveryKey:
        """From the 24 words or the ``AGE-SECRET-KEY-1...`` string (spaces, case free)."""
        cleaned = " ".join(text.split())
        if not cleaned:
            raise BadRecoveryKey("no recovery key given; type the 24 words or the key string")
        if cleaned.upper().startswith(SECRET_HRP.upper()):
            try:
                hrp, secret = bech32_decode(cleaned.replace(" ", ""))
            except ValueError as err:
                raise BadRecoveryKey(
                    f"that recovery key string is not valid ({err}); check each character"
                ) from None
            if hrp != SECRET_HRP or len(secret) != 32:
                raise BadRecoveryKey("that is not a homehub recovery key string")
            return cls(secret)
        words = cleaned.lower().split(" ")
        unknown = [w for w in words if w not in _words().wordlist]
        if unknown:
            raise BadRecoveryKey(
                f"not words of a recovery key: {', '.join(unknown[:3])}; check the spelling"
            )
        if len(words) != 24:
            raise BadRecoveryKey(f"a recovery key has 24 words; got {len(words)}")
        if not _words().check(" ".join(words)):
            raise BadRecoveryKey(
                "the 24 words do not add up (their checksum fails): a word is wrong or two are "
                "swapped; compare with the paper copy"
            )
        return cls(bytes(_words().to_entropy(words)))

    @property
    def words(self) -> list[str]:
        """The 24 words a person writes down."""
        return str(_words().to_mnemonic(self.secret)).split(" ")

    @property
    def identity(self) -> str:
        """The age identity string, ``AGE-SECRET-KEY-1...`` (fits a QR code's alphanumeric mode)."""
        return bech32_encode(SECRET_HRP, self.secret).upper()

    @property
    def recipient(self) -> str:
        """The age recipient (public key), ``age1...``, that backups are encrypted to."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = X25519PrivateKey.from_private_bytes(self.secret).public_key()
        return bech32_encode(PUBLIC_HRP, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def vault_signer(self) -> Ed25519PrivateKey:
        """The key that proves to the relay that its holder may list and fetch the backups."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        seed = HKDF(hashes.SHA256(), 32, salt=b"homehub", info=_VAULT_INFO).derive(self.secret)
        return Ed25519PrivateKey.from_private_bytes(seed)

    @property
    def vault_id(self) -> str:
        """The vault key's public half (base64url), which the hub registers with its uploads."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.vault_signer().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")  # it goes into URLs

    def public(self) -> PublicRecoveryKey:
        """What the hub may keep."""
        return PublicRecoveryKey(self.recipient, self.vault_id)


@dataclass(frozen=True, slots=True)
class PublicRecoveryKey:
    """The public values a hub keeps: it can encrypt backups, never open them."""

    recipient: str
    vault_id: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", self.recipient):
            raise BadRecoveryKey(f"{self.recipient!r} is not an age recipient (age1...)")

    @property
    def fingerprint(self) -> str:
        """A short form people can compare (the recipient's last 8 characters)."""
        return self.recipient[-8:]
