"""A private Mosquitto broker for tests, benches and the demo (never for a real home).

    broker = MosquittoBroker(workdir, users={"hub": "secret"}, tls=True)
    await broker.start()          # a free port on 127.0.0.1; broker.port, broker.ca_file
    await broker.restart()        # same port: clients must reconnect and resubscribe
    await broker.stop()

Passwords are written in Mosquitto 2's `$7$` form (PBKDF2-SHA512, 101 rounds, 12-byte salt);
TLS uses a throwaway CA made here with `cryptography`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from integrations.errors import IntegrationError

CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def mosquitto_binary() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a Mosquitto 2 password file."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return (f"{user}:$7$101${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


def make_certificates(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `host` (and localhost): (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homehub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class MosquittoBroker:
    """A mosquitto process listening on 127.0.0.1:<free port>, configured from scratch."""

    def __init__(self, workdir: Path, *, host: str = "127.0.0.1", port: int | None = None,
                 users: dict[str, str] | None = None, tls: bool = False) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.users = dict(users or {})
        self.tls = tls
        self.ca_file: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        """The process is alive."""
        return self._process is not None and self._process.poll() is None

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [f"listener {self.port} {self.host}", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning",
                 "max_inflight_messages 1000", "max_queued_messages 100000"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root mosquitto drops to the "mosquitto" user, who cannot read our temp files.
            lines.append("user root")
        if self.users:
            passwords = self.workdir / "passwords"
            passwords.write_text("".join(password_line(u, p) + "\n"
                                         for u, p in self.users.items()))
            passwords.chmod(0o600)
            lines += [f"password_file {passwords}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            if self.ca_file is None:
                self.ca_file, cert, key = make_certificates(self.workdir / "tls", self.host)
            else:
                cert, key = self.workdir / "tls" / "server.pem", self.workdir / "tls" / "server.key"
            lines += [f"cafile {self.ca_file}", f"certfile {cert}", f"keyfile {key}"]
        config = self.workdir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start_sync(self, timeout: float = 10.0) -> None:
        """Run mosquitto and wait until it accepts connections (blocking)."""
        binary = mosquitto_binary()
        if binary is None:
            raise IntegrationError(
                "mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)"
            )
        config = self._write_config()
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "-c", str(config)], stdout=log, stderr=log,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                socket.create_connection((self.host, self.port), timeout=1.0).close()
            except OSError:
                time.sleep(0.02)
                continue
            return
        text = self._log.read_text(errors="replace")
        self.stop_sync()
        raise IntegrationError(f"mosquitto did not start on {self.host}:{self.port}: {text[-500:]}")

    def stop_sync(self) -> None:
        """Terminate the broker (clients see the connection drop)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    async def start(self) -> None:
        """`start_sync` off the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.start_sync)

    async def stop(self) -> None:
        """`stop_sync` off the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop_sync)

    async def restart(self) -> None:
        """Stop and start again on the same port (a broker upgrade, a crash)."""
        await self.stop()
        await self.start()
