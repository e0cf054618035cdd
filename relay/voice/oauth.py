"""OAuth 2 authorization server for account linking (Alexa, Google), on authlib.

authlib implements the protocol (authorization code with PKCE S256, refresh-token rotation,
RFC 7009 revocation, client authentication); this module gives it an aiohttp adapter and a
token store. Tokens are random and stored only as SHA-256 digests; they live in memory and
are written to SQLite before any response that hands them out is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from relay.voice.errors import TokenExpired, TokenInvalid

SCOPE = "devices"
ACCESS_TTL_S = 3600
REFRESH_TTL_S = 180 * 86400
CODE_TTL_S = 300


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret_digest(secret: str) -> str:
    """How a client secret is configured: its SHA-256 (the relay never stores the secret)."""
    return _digest(secret)


@dataclass(frozen=True, slots=True)
class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered assistant (e.g. the Alexa skill); public when it has no secret."""

    client_id: str
    redirect_uris: tuple[str, ...]
    secret_sha256: str | None = None
    name: str = ""

    def get_client_id(self) -> str:
        """The client id."""
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        """The first registered redirect URI."""
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        """Only the `devices` scope exists."""
        return SCOPE

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match against the registered URIs."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Constant-time compare of digests."""
        if self.secret_sha256 is None:
            return False
        return hmac.compare_digest(_digest(client_secret), self.secret_sha256)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Confidential clients send their secret; public ones send none (and must use PKCE)."""
        if self.secret_sha256 is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        """Authorization code only."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Authorization code and refresh token."""
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(slots=True)
class AuthCode:
    """A short-lived authorization code (memory only: a restart merely restarts linking)."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    account: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        """Where the code was sent."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The granted scope."""
        return self.scope


@dataclass(slots=True)
class TokenRecord:
    """One issued access/refresh token pair, by digest."""

    access_hash: str
    refresh_hash: str | None
    client_id: str
    account: str
    scope: str
    issued: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: OAuthClient) -> bool:
        """Was it issued to this client?"""
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        """The scope."""
        return self.scope

    def get_expires_in(self) -> int:
        """Access-token lifetime in seconds."""
        return self.expires_in

    def is_expired(self) -> bool:
        """Is the access token past its lifetime?"""
        return time.time() >= self.issued + self.expires_in

    def is_refresh_expired(self) -> bool:
        """Is the refresh token past its lifetime?"""
        return time.time() >= self.issued + REFRESH_TTL_S

    def is_revoked(self) -> bool:
        """Was it revoked (or rotated away)?"""
        return self.revoked

    def get_user(self) -> str:
        """The account."""
        return self.account

    def get_client_id(self) -> str:
        """The client id."""
        return self.client_id


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: Mapping[str, str], datalist: Mapping[str, list[str]]) -> None:
        self._data = dict(data)
        self._datalist = {k: list(v) for k, v in datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An already-read HTTP request for authlib (query + form, headers)."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str],
                 query: Iterable[tuple[str, str]], form: Iterable[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        datalist: dict[str, list[str]] = {}
        for key, value in [*query, *form]:
            datalist.setdefault(key, []).append(value)
        self.payload = _Payload({**self._args, **self._form}, datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only ("plain" gives no protection against a leaked code)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("send code_challenge_method=S256 with code_challenge")
        super().validate_code_challenge(grant, redirect_uri)


class TokenStore:
    """Clients, codes and token digests; SQLite-backed, served from memory."""

    def __init__(self, path: Path, clients: Iterable[OAuthClient]) -> None:
        self.path = path
        self.clients = {c.client_id: c for c in clients}
        self.codes: dict[str, AuthCode] = {}
        self.by_access: dict[str, TokenRecord] = {}
        self.by_refresh: dict[str, TokenRecord] = {}
        self._dirty: dict[str, TokenRecord] = {}
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        """Open the database and load the tokens."""
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS oauth_tokens (access_hash TEXT PRIMARY KEY,"
            " refresh_hash TEXT, client_id TEXT NOT NULL, account TEXT NOT NULL,"
            " scope TEXT NOT NULL, issued REAL NOT NULL, expires_in INTEGER NOT NULL,"
            " revoked INTEGER NOT NULL DEFAULT 0)"
        )
        await self._db.commit()
        async with self._db.execute(
            "SELECT access_hash, refresh_hash, client_id, account, scope, issued, expires_in,"
            " revoked FROM oauth_tokens WHERE revoked=0 AND issued > ?",
            (time.time() - REFRESH_TTL_S,),
        ) as cursor:
            async for row in cursor:
                self._index(TokenRecord(
                    access_hash=row[0], refresh_hash=row[1], client_id=row[2], account=row[3],
                    scope=row[4], issued=row[5], expires_in=row[6], revoked=bool(row[7])))

    async def close(self) -> None:
        """Write what is pending and close."""
        if self._db is not None:
            await self.commit()
            await self._db.close()
            self._db = None

    def _index(self, record: TokenRecord) -> None:
        self.by_access[record.access_hash] = record
        if record.refresh_hash:
            self.by_refresh[record.refresh_hash] = record

    def add(self, record: TokenRecord) -> None:
        """A newly issued pair (written by the next commit)."""
        self._index(record)
        self._dirty[record.access_hash] = record

    def revoke(self, record: TokenRecord) -> None:
        """Revoke a pair (written by the next commit)."""
        record.revoked = True
        self._dirty[record.access_hash] = record

    def revoke_grant(self, account: str, client_id: str) -> int:
        """Revoke every pair an account gave one client (unlinking)."""
        hits = [r for r in self.by_access.values()
                if r.account == account and r.client_id == client_id and not r.revoked]
        for record in hits:
            self.revoke(record)
        return len(hits)

    async def commit(self) -> None:
        """Persist new and revoked tokens (called before a response leaves)."""
        dirty, self._dirty = self._dirty, {}
        if not dirty or self._db is None:
            return
        try:
            await self._db.executemany(
                "INSERT INTO oauth_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(access_hash)"
                " DO UPDATE SET revoked=excluded.revoked",
                [(r.access_hash, r.refresh_hash, r.client_id, r.account, r.scope, r.issued,
                  r.expires_in, int(r.revoked)) for r in dirty.values()],
            )
            await self._db.commit()
        except BaseException:
            # Kept for the next commit: a revocation that was not stored would come back to
            # life at the next start (and asking again finds nothing left to revoke).
            self._dirty = {**dirty, **self._dirty}
            raise

    def account_for(self, access_token: str) -> tuple[str, str]:
        """(account, client id) of a valid access token; TokenInvalid / TokenExpired otherwise."""
        record = self.by_access.get(_digest(access_token))
        if record is None or record.revoked:
            raise TokenInvalid("the access token is unknown or revoked; link the account again")
        if record.is_expired():
            raise TokenExpired("the access token has expired; refresh it")
        return record.account, record.client_id


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [
        "client_secret_basic", "client_secret_post", "none"]
    store: TokenStore

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.store.codes[code] = AuthCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri") or request.client.get_default_redirect_uri(),
            scope=SCOPE,
            account=str(request.user),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthCode | None:
        found = self.store.codes.get(code)
        if found is None or found.client_id != client.client_id:
            return None
        if time.time() - found.issued > CODE_TTL_S:
            self.store.codes.pop(code, None)
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        self.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthCode) -> str:
        return authorization_code.account


class _RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [
        "client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: a stolen refresh token works once at most
    store: TokenStore

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        record = self.store.by_refresh.get(_digest(refresh_token))
        if record is not None and record.revoked:
            # A rotated-away refresh token used again: one of the two users stole it. End the
            # whole grant; the real user links again (RFC 9700 §4.14.2).
            self.store.revoke_grant(record.account, record.client_id)
            return None
        if record is None or record.is_refresh_expired():
            return None
        return record

    def authenticate_user(self, refresh_token: TokenRecord) -> str:
        return refresh_token.account

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        self.store.revoke(refresh_token)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [
        "client_secret_basic", "client_secret_post", "none"]
    store: TokenStore

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        digest = _digest(token_string)
        if token_type_hint == "refresh_token":
            return self.store.by_refresh.get(digest) or self.store.by_access.get(digest)
        return self.store.by_access.get(digest) or self.store.by_refresh.get(digest)

    def revoke_token(self, token: TokenRecord, request: OAuth2Request) -> None:
        self.store.revoke(token)


def _bind(cls: type[Any], store: TokenStore) -> type[Any]:
    return type(cls.__name__, (cls,), {"store": store})


class LinkingServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's AuthorizationServer over a TokenStore; responses as (status, body, headers)."""

    def __init__(self, store: TokenStore) -> None:
        super().__init__(scopes_supported=[SCOPE])
        self.store = store
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "hha_" + secrets.token_urlsafe(32),
                refresh_token_generator=lambda **_: "hhr_" + secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: ACCESS_TTL_S,
            ),
        )
        self.register_grant(_bind(_AuthorizationCodeGrant, store), [_S256Only(required=True)])
        self.register_grant(_bind(_RefreshTokenGrant, store))
        self.register_endpoint(_bind(_Revocation, store)(self))

    def query_client(self, client_id: str) -> OAuthClient | None:
        """A registered client."""
        return self.store.clients.get(client_id)

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        """Keep digests of a newly issued pair."""
        refresh = token.get("refresh_token")
        self.store.add(TokenRecord(
            access_hash=_digest(str(token["access_token"])),
            refresh_hash=_digest(str(refresh)) if refresh else None,
            client_id=request.client.client_id,
            account=str(request.user),
            scope=str(token.get("scope") or SCOPE),
            issued=time.time(),
            expires_in=int(token.get("expires_in", ACCESS_TTL_S)),
        ))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Requests arrive already read (FormRequest)."""
        if not isinstance(request, OAuth2Request):
            raise TypeError("pass a FormRequest")
        return request

    def create_json_request(self, request: Any) -> Any:
        """Not used (no JSON endpoints)."""
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        """Hand the parts back to the aiohttp layer."""
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals."""


def clients_from_json(data: Any) -> list[OAuthClient]:
    """Clients from settings: [{"client_id", "redirect_uris": [...], "secret_sha256"?, "name"?}]."""
    if not isinstance(data, list):
        raise ValueError("OAuth clients must be a JSON list of objects")
    out = []
    for entry in data:
        if not isinstance(entry, Mapping) or not entry.get("client_id"):
            raise ValueError(f"an OAuth client needs a client_id: {entry!r}")
        uris = entry.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise ValueError(f"client {entry['client_id']!r} needs a list of redirect_uris")
        secret = entry.get("secret_sha256")
        if secret is not None and not (isinstance(secret, str) and len(secret) == 64):
            raise ValueError(
                f"client {entry['client_id']!r}: secret_sha256 is the hex SHA-256 of the secret"
                " (python -c 'import hashlib;print(hashlib.sha256(b\"SECRET\").hexdigest())')"
            )
        out.append(OAuthClient(str(entry["client_id"]), tuple(uris), secret,
                               str(entry.get("name", ""))))
    return out
