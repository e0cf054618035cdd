"""Voice endpoints on a relay node: OAuth account linking and the Alexa / Google webhooks.

    service = VoiceService(server, [OAuthClient("alexa", ("https://.../redirect",), digest)])
    service.add_routes(app)            # inside RelayServer.build_app
    await service.start(); ...; await service.stop()

or simply `VoiceRelayServer(config, clients)` in place of `RelayServer`.

Routes: GET/POST /v1/oauth/authorize (log-in page), POST /v1/oauth/token, POST /v1/oauth/revoke,
POST /v1/alexa (token in the directive's scope), POST /v1/google/fulfillment (Bearer header).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from authlib.oauth2.rfc6749.errors import OAuth2Error

from relay.accounts import digest
from relay.admission import client_address
from relay.config import RelayConfig
from relay.errors import Unauthorized
from relay.limits import RateLimiter
from relay.openapi import ANY_OBJECT, doc
from relay.protocol import JsonTooDeep, loads_bounded
from relay.routing import Routing
from relay.server import RelayServer
from relay.voice import alexa
from relay.voice.backend import VoiceBackend
from relay.voice.backend_relay import RelayVoiceBackend
from relay.voice.change_reports import ChangeReportSender, LoggingChangeReportSender
from relay.voice.dispatch import handle_alexa, handle_google, is_disconnect
from relay.voice.errors import TokenExpired, TokenInvalid
from relay.voice.oauth import FormRequest, LinkingServer, OAuthClient, TokenStore
from relay.voice.reporting import ChangeReportPump

_LOG = logging.getLogger(__name__)
MAX_BODY = 256 * 1024

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Link homehub</title></head>
<body><h1>Link {client} to your homehub account</h1>
<p>{message}</p>
<form method="post" action="{action}">
<label>E-mail <input name="email" type="email" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button name="decision" value="allow">Allow</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>
"""


def _oauth_json(result: tuple[int, Any, Any]) -> web.Response:
    status, body, headers = result
    text = body if isinstance(body, str) else json.dumps(body)
    response = web.Response(status=status, text=text, content_type="application/json")
    for key, value in headers or ():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


class VoiceService:
    """OAuth linking and assistant webhooks for one relay node."""

    def __init__(
        self,
        server: RelayServer,
        clients: Sequence[OAuthClient],
        *,
        reports: ChangeReportSender | None = None,
        backend: VoiceBackend | None = None,
        public_url: str | None = None,
    ) -> None:
        self.server = server
        self.tokens = TokenStore(server.config.data_dir / "voice.sqlite3", clients)
        self.oauth = LinkingServer(self.tokens)
        self.reports: ChangeReportSender = reports or LoggingChangeReportSender()
        self.backend: VoiceBackend = backend or RelayVoiceBackend(server)
        self.pump = ChangeReportPump(server.routing, self.backend, self.reports)
        # authlib refuses plain-http URLs except loopback; behind a TLS proxy give the public URL.
        self.public_url = public_url.rstrip("/") if public_url else None
        config = server.config
        self._rates = RateLimiter(config.account_rate, config.account_burst)
        self._login_rates = RateLimiter(config.login_rate, config.login_burst)

    async def start(self) -> None:
        """Open the token store."""
        self.tokens.path.parent.mkdir(parents=True, exist_ok=True)
        await self.tokens.open()

    async def stop(self) -> None:
        """Stop the change reports and close the token store."""
        await self.pump.stop()
        await self.tokens.close()

    def add_routes(self, app: web.Application) -> None:
        """Mount the voice routes."""
        r = app.router
        r.add_get("/v1/oauth/authorize", self._authorize_page)
        r.add_post("/v1/oauth/authorize", self._authorize)
        r.add_post("/v1/oauth/token", self._token)
        r.add_post("/v1/oauth/revoke", self._revoke)
        r.add_post("/v1/alexa", self._alexa)
        r.add_post("/v1/google/fulfillment", self._google)

    # ------------------------------------------------------------------ OAuth
    def _uri(self, request: web.Request) -> str:
        if self.public_url:
            return self.public_url + request.rel_url.path_qs
        return str(request.url)

    async def _form_request(self, request: web.Request) -> FormRequest:
        form = await request.post() if request.method == "POST" else {}
        return FormRequest(
            request.method,
            self._uri(request),
            request.headers,
            list(request.query.items()),
            [(k, v) for k, v in form.items() if isinstance(v, str)],
        )

    def _page(self, request: web.Request, grant: Any, message: str, status: int) -> web.Response:
        client = grant.client
        text = _PAGE.format(
            client=html.escape(client.name or client.client_id),
            message=html.escape(message),
            action=html.escape(request.rel_url.path_qs, quote=True),
        )
        # The password form must not be framed by another site, nor cached.
        headers = {"X-Frame-Options": "DENY", "Cache-Control": "no-store",
                   "Content-Security-Policy": "frame-ancestors 'none'"}
        return web.Response(status=status, text=text, content_type="text/html", headers=headers)

    def _consent(self, oauth_request: FormRequest, account: str | None = None) -> Any:
        return self.oauth.get_consent_grant(oauth_request, end_user=account)

    @doc("OAuth account linking: the sign-in page (HTML)", auth="none", tag="voice")
    async def _authorize_page(self, request: web.Request) -> web.Response:
        try:
            grant = self._consent(await self._form_request(request))
        except OAuth2Error as err:
            # Never redirect to a URI we could not verify: show the error here.
            return web.Response(status=400, text=f"{err.error}: {err.description}")
        return self._page(request, grant, "Log in with your homehub relay account.", 200)

    @doc("OAuth account linking: the sign-in form's answer (a redirect with a code)",
         auth="none", tag="voice")
    async def _authorize(self, request: web.Request) -> web.Response:
        oauth_request = await self._form_request(request)
        try:
            grant = self._consent(oauth_request)
        except OAuth2Error as err:
            return web.Response(status=400, text=f"{err.error}: {err.description}")
        form = oauth_request.form
        account: str | None = None
        if form.get("decision") != "deny":
            address = client_address(request, self.server.config.trusted_proxies)
            if not self._login_rates.allow(address):
                return self._page(request, grant, "Too many attempts; wait a minute.", 429)
            try:
                account, session = await self.server.accounts.login(
                    form.get("email", ""), form.get("password", ""), address=address
                )
            except Unauthorized:
                return self._page(request, grant, "Wrong e-mail or password; try again.", 401)
            await self.server.accounts.logout(digest(session))  # only the password mattered
            oauth_request.user = account
        status, _, headers = self.oauth.create_authorization_response(
            oauth_request, grant_user=account, grant=grant
        )
        await self.tokens.commit()
        return web.Response(status=status, headers=dict(headers or ()))

    @doc("OAuth token endpoint (RFC 6749 form body)", auth="none", tag="voice")
    async def _token(self, request: web.Request) -> web.Response:
        result = self.oauth.create_token_response(await self._form_request(request))
        await self.tokens.commit()  # the tokens exist before the client sees them
        return _oauth_json(result)

    @doc("OAuth token revocation (RFC 7009 form body)", auth="none", tag="voice")
    async def _revoke(self, request: web.Request) -> web.Response:
        oauth_request = await self._form_request(request)
        result = self.oauth.create_endpoint_response("revocation", oauth_request)
        await self.tokens.commit()
        return _oauth_json(result)

    # ------------------------------------------------------------------ webhooks
    async def _json(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_BODY, actual_size=request.content_length
            )
        try:
            return loads_bounded(await request.read())
        except JsonTooDeep as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="the body is not JSON") from None

    @doc("Alexa Smart Home v3 directives (the token is in the directive's scope)",
         auth="none", tag="voice", response=ANY_OBJECT)
    async def _alexa(self, request: web.Request) -> web.Response:
        directive = await self._json(request)
        if not isinstance(directive, dict):
            raise web.HTTPBadRequest(text="send an Alexa directive object")
        token = alexa.bearer_token(directive)
        if token is None:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.startswith("Bearer ") else None
        try:
            if token is None:
                raise TokenInvalid("no access token")
            account, _ = self.tokens.account_for(token)
        except (TokenInvalid, TokenExpired) as err:
            expired = isinstance(err, TokenExpired)
            return web.json_response(alexa.credential_error(directive, expired))
        if not self._rates.allow(account):
            raise web.HTTPTooManyRequests(text="slow down", headers={"Retry-After": "1"})
        answer = await handle_alexa(directive, account, self.backend, self.reports)
        if await self.reports.event_token(account) is not None:
            self.pump.watch(account, [h.hub_id for h in await self.backend.hubs(account)])
        return web.json_response(answer)

    @doc("Google Smart Home fulfillment (SYNC, QUERY, EXECUTE, DISCONNECT)", auth="oauth",
         tag="voice", response=ANY_OBJECT)
    async def _google(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        try:
            if not header.startswith("Bearer "):
                raise TokenInvalid("send Authorization: Bearer <access token>")
            account, client_id = self.tokens.account_for(header[7:].strip())
        except (TokenInvalid, TokenExpired) as err:
            # Google refreshes the token on a 401.
            return web.json_response({"error": err.message}, status=401)
        if not self._rates.allow(account):
            raise web.HTTPTooManyRequests(text="slow down", headers={"Retry-After": "1"})
        body = await self._json(request)
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="send a fulfillment request object")
        answer = await handle_google(body, account, self.backend)
        if is_disconnect(body):
            revoked = self.tokens.revoke_grant(account, client_id)
            await self.tokens.commit()
            _LOG.info("account %s unlinked %s (%d tokens revoked)", account, client_id, revoked)
        return web.json_response(answer)


class VoiceRelayServer(RelayServer):
    """A relay node that also serves the voice endpoints."""

    def __init__(
        self,
        config: RelayConfig,
        clients: Sequence[OAuthClient],
        routing: Routing | None = None,
        **voice: Any,
    ) -> None:
        super().__init__(config, routing)
        self.voice = VoiceService(self, clients, **voice)

    def build_app(self) -> web.Application:
        """The relay's app plus the voice routes."""
        app = super().build_app()
        self.voice.add_routes(app)
        return app

    async def start(self) -> None:
        """Open the token store, then start the relay."""
        await self.voice.start()
        await super().start()

    async def stop(self) -> None:
        """Stop the relay, then close the token store."""
        try:
            await super().stop()
        finally:
            await self.voice.stop()
