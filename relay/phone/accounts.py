"""Phone API, accounts: sign up, sign in (a bearer token, or the browser's HttpOnly cookie),
the current session, sign out."""

from __future__ import annotations

from aiohttp import web

from relay.admission import client_address
from relay.errors import Invalid, NotFound, RateLimited
from relay.http_json import guard, read_json_object
from relay.openapi import BOOLEAN, STRING, doc, obj, schema
from relay.phone.context import SESSION_COOKIE, PhonePart
from relay.webapp.session import clear_session_cookie, csrf_token, set_session_cookie

CREDENTIALS = obj({"email": STRING, "password": STRING}, ["email", "password"])
SESSION = schema(
    "Session",
    obj({"account_id": STRING, "email": STRING, "csrf": STRING}, ["account_id", "email", "csrf"]),
)


class AccountRoutes(PhonePart):
    """POST /v1/accounts, POST /v1/sessions, GET and DELETE /v1/sessions/current."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_post("/v1/accounts", guard(self.signup))
        router.add_post("/v1/sessions", guard(self.login))
        router.add_get("/v1/sessions/current", guard(self.current))
        router.add_delete("/v1/sessions/current", guard(self.logout))

    def _address(self, request: web.Request) -> str:
        # Behind a load balancer every peer is the balancer: the limits would then count one
        # address for everyone (one guesser shutting out every owner); trust its header.
        return client_address(request, self.ctx.config.trusted_proxies)

    def _limit_login(self, request: web.Request) -> None:
        if not self.ctx.login_rates.allow(self._address(request)):
            raise RateLimited("too many log-in attempts from this address; wait a minute")

    @doc(
        "Create an account (only where the operator allows sign-up: 404 otherwise)",
        body=CREDENTIALS,
        response=obj({"account_id": STRING}, ["account_id"]),
        status=201,
        errors=(404, 409, 422, 429),
        auth="none",
    )
    async def signup(self, request: web.Request) -> web.Response:
        """Create an account (only where the operator allows sign-up)."""
        if not self.ctx.config.allow_signup:
            raise NotFound("sign-up is disabled on this relay; ask its operator for an account")
        self._limit_login(request)
        data = await read_json_object(request)
        account_id = await self.ctx.accounts.create(
            str(data.get("email", "")), str(data.get("password", ""))
        )
        return web.json_response({"account_id": account_id}, status=201)

    @doc(
        "Sign in. Scripts get a bearer token in the body; the web app sends "
        '`"cookie": true` and gets an HttpOnly session cookie plus the CSRF token instead',
        body=obj({**CREDENTIALS["properties"], "cookie": BOOLEAN}, ["email", "password"]),
        response={
            "oneOf": [
                obj({"account_id": STRING, "token": STRING}, ["account_id", "token"]),
                SESSION,
            ]
        },
        status=201,
        errors=(401, 422, 429),
        auth="none",
    )
    async def login(self, request: web.Request) -> web.Response:
        """A new session for e-mail + password: a token in the body, or (`"cookie": true`, the
        web app) an HttpOnly cookie plus the CSRF token the app sends back on every change."""
        self._limit_login(request)
        data = await read_json_object(request)
        cookie = data.get("cookie", False)
        if not isinstance(cookie, bool):
            raise Invalid('"cookie" is true (the browser keeps the session) or false')
        email = str(data.get("email", "")).strip().lower()
        account_id, token = await self.ctx.accounts.login(
            email, str(data.get("password", "")), address=self._address(request)
        )
        if not cookie:
            return web.json_response({"account_id": account_id, "token": token}, status=201)
        response = web.json_response(
            {"account_id": account_id, "email": email, "csrf": csrf_token(token)}, status=201
        )
        set_session_cookie(
            response, request, SESSION_COOKIE, token, int(self.ctx.config.session_ttl_s)
        )
        return response

    @doc("Who is signed in, and the session's CSRF token", response=SESSION)
    async def current(self, request: web.Request) -> web.Response:
        """Who is signed in (the web app asks on start: a cookie it cannot read may be there)."""
        caller = await self.ctx.caller(request)
        email = await self.ctx.store.account_email(caller.account_id)
        return web.json_response(
            {"account_id": caller.account_id, "email": email, "csrf": csrf_token(caller.token)}
        )

    @doc("Sign out: the session ends, the cookie is cleared, its event sockets close", status=204)
    async def logout(self, request: web.Request) -> web.Response:
        """End this session, forget the cookie and close the session's event sockets."""
        caller = await self.ctx.caller(request, limit=False)
        await self.ctx.accounts.logout(caller.token_hash)
        await self.ctx.sockets.cut(lambda _a, _h, t: t == caller.token_hash, "you logged out")
        response = web.Response(status=204)
        clear_session_cookie(response, SESSION_COOKIE)
        return response
