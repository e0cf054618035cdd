"""The B-route ID and password, read from a secrets file only its owner can read.

The power company's letter gives a 32-character ID and a 12-character password. They live in a
TOML file of mode 0600 (never in homehub.toml, which people share when asking for help):

    id = "0000000000000000000000000000ABCD"
    password = "ABCDEFGHIJKL"

Neither value is ever logged, put in a device description, or returned by the API.
"""

from __future__ import annotations

import os
import stat
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from integrations.errors import IntegrationError

SECRETS_FILE_NAME = "secrets.toml"
_ALLOWED = set(string.ascii_letters + string.digits)


class CredentialsError(IntegrationError):
    """The secrets file is missing, readable by others, or holds something unusable."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A B-route ID and password (repr hides both)."""

    rbid: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(rbid=****, password=****)"

    def secrets(self) -> tuple[str, str]:
        """Both values (for tests that prove they never leak)."""
        return self.rbid, self.password


def check(rbid: str, password: str, where: str) -> Credentials:
    """Validate the shapes the dongle accepts; the message never repeats the values."""
    rbid = rbid.strip()
    password = password.strip()
    if len(rbid) != 32 or not set(rbid) <= _ALLOWED:
        raise CredentialsError(
            f"{where}: `id` must be the 32 letters and digits of the B-route ID from the power "
            f"company's letter (this one has {len(rbid)} characters)"
        )
    if not 1 <= len(password) <= 32 or not set(password) <= _ALLOWED:
        raise CredentialsError(
            f"{where}: `password` must be the B-route password from the power company's "
            "letter (usually 12 letters and digits)"
        )
    return Credentials(rbid, password)


def load(path: Path) -> Credentials:
    """Read and check the secrets file; CredentialsError says what to fix."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialsError(
            f"the B-route ID and password go in {path} (mode 0600), as\n"
            '    id = "<32 characters>"\n    password = "<12 characters>"\n'
            f"create it with: install -m 600 /dev/null {path}  and edit it"
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):04o}); it "
            f"holds the B-route password: run  chmod 600 {path}"
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise CredentialsError(
            f"{path} belongs to another user; the hub's user must own its secrets file "
            f"(chown $(id -u) {path})"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CredentialsError(f"{path} is not valid TOML: {err}") from err
    missing = [k for k in ("id", "password") if not isinstance(doc.get(k), str)]
    if missing:
        raise CredentialsError(f"{path} needs {' and '.join(missing)} (as strings)")
    return check(doc["id"], doc["password"], str(path))


def save(path: Path, credentials: Credentials) -> None:
    """Write the secrets file with mode 0600 from the start (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f'id = "{credentials.rbid}"\npassword = "{credentials.password}"\n'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)
