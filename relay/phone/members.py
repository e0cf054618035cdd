"""Phone API, members of a home: the owner invites accounts by e-mail and removes them; members
see and control the home and may leave it; everyone sees who is in.

Who may do what (anyone else gets 404 for the hub: a hub's existence is never revealed):

| route                                          | owner | member            |
|------------------------------------------------|-------|-------------------|
| GET    /v1/hubs/{hub_id}/members               | yes   | yes               |
| POST   /v1/hubs/{hub_id}/invitations           | yes   | 403               |
| DELETE /v1/hubs/{hub_id}/invitations/{id}      | yes   | 403               |
| DELETE /v1/hubs/{hub_id}/members/{account_id}  | others| only "me" (leave) |
| DELETE /v1/hubs/{hub_id} (hubs.py)             | unclaim: everyone goes | leave |

and for the invited account: GET /v1/invitations, POST /v1/invitations/{id}/accept|decline.

An invitation names an e-mail address: whoever signs in with that address may accept it (the
relay does not verify addresses; on a relay with open sign-up, an owner should invite addresses
that already have an account there).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from relay.accounts import valid_email
from relay.errors import Conflict, Forbidden, Invalid, NotFound
from relay.http_json import guard, read_json_object
from relay.openapi import BOOLEAN, NUMBER, STRING, arr, doc, obj, ref, schema
from relay.phone.context import PhonePart
from relay.phone.hubs import hub_summary
from relay.store import OWNER, Invitation

# Open invitations one hub may have: enough for any household, and a bound on what one owner
# can make the relay store.
MAX_INVITATIONS_PER_HUB = 50
ME = "me"

INVITATION = schema(
    "Invitation",
    obj(
        {
            "id": STRING,
            "hub_id": STRING,
            "hub_name": STRING,
            "email": STRING,
            "from_account_id": STRING,
            "from_email": STRING,
            "created": NUMBER,
        },
        ["id", "hub_id", "hub_name", "email", "from_account_id", "from_email", "created"],
    ),
)
schema("Invitations", obj({"invitations": arr(INVITATION)}, ["invitations"]))
schema(
    "Members",
    obj(
        {
            "hub_id": STRING,
            "role": {"enum": ["owner", "member"], "description": "the caller's role"},
            "members": arr(
                obj(
                    {
                        "account_id": STRING,
                        "email": STRING,
                        "role": {"enum": ["owner", "member"]},
                        "you": BOOLEAN,
                    },
                    ["account_id", "email", "role", "you"],
                )
            ),
            "invitations": arr(INVITATION),
        },
        ["hub_id", "role", "members", "invitations"],
    ),
)


class MemberRoutes(PhonePart):
    """Members and invitations of a hub, and the caller's own invitations."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_get("/v1/hubs/{hub_id}/members", guard(self.members))
        router.add_delete("/v1/hubs/{hub_id}/members/{account_id}", guard(self.remove))
        router.add_post("/v1/hubs/{hub_id}/invitations", guard(self.invite))
        router.add_delete("/v1/hubs/{hub_id}/invitations/{invitation_id}", guard(self.cancel))
        router.add_get("/v1/invitations", guard(self.my_invitations))
        router.add_post("/v1/invitations/{invitation_id}/accept", guard(self.accept))
        router.add_post("/v1/invitations/{invitation_id}/decline", guard(self.decline))

    async def invitation_json(self, invitation: Invitation) -> dict[str, Any]:
        """An invitation as both the owner and the invited account see it."""
        row = await self.ctx.store.hub(invitation.hub_id)
        return {
            "id": invitation.id,
            "hub_id": invitation.hub_id,
            "hub_name": row.name if row else "",
            "email": invitation.email,
            "from_account_id": invitation.from_account,
            "from_email": await self.ctx.store.account_email(invitation.from_account) or "",
            "created": invitation.created,
        }

    @doc(
        "Who is in the home (owner first) and the open invitations; owner and members",
        response=ref("Members"),
    )
    async def members(self, request: web.Request) -> web.Response:
        """Everyone in the hub with their role, and who is invited."""
        account_id, hub_id, role = await self.ctx.role(request)
        rows = await self.ctx.store.hub_members(hub_id)
        invitations = await self.ctx.store.invitations_of_hub(hub_id)
        return web.json_response(
            {
                "hub_id": hub_id,
                "role": role,
                "members": [
                    {"account_id": a, "email": e, "role": r, "you": a == account_id}
                    for a, e, r in rows
                ],
                "invitations": [await self.invitation_json(i) for i in invitations],
            }
        )

    @doc(
        "Invite an e-mail address to the home as a member (owner only; 403 for members). "
        "201 for a new invitation, 200 when that address was already invited",
        body=obj({"email": {"type": "string", "format": "email"}}, required=["email"]),
        response=INVITATION,
        status=201,
        errors=(403, 404, 409, 422),
    )
    async def invite(self, request: web.Request) -> web.Response:
        """The owner invites an e-mail address."""
        ctx = self.ctx
        account_id, hub_id = await ctx.owner(request, "invite people to this home")
        data = await read_json_object(request)
        email = data.get("email")
        if not isinstance(email, str) or not valid_email(email.strip().lower()):
            raise Invalid('send {"email": "..."}: the address of the account to invite')
        email = email.strip().lower()
        for _, member_email, role in await ctx.store.hub_members(hub_id):
            if member_email == email:
                who = "you own" if role == OWNER else "is already a member of"
                raise Conflict(f"{email} {who} this home")
        existing = await ctx.store.invitations_of_hub(hub_id)
        if any(i.email == email for i in existing):
            found = next(i for i in existing if i.email == email)
            return web.json_response(await self.invitation_json(found), status=200)
        if len(existing) >= MAX_INVITATIONS_PER_HUB:
            raise Invalid(
                f"this home has {MAX_INVITATIONS_PER_HUB} open invitations; cancel some first"
            )
        invitation = await ctx.store.add_invitation(
            Invitation("inv_" + secrets.token_hex(8), hub_id, email, account_id, time.time())
        )
        return web.json_response(await self.invitation_json(invitation), status=201)

    @doc("Cancel an open invitation (owner only)", status=204, errors=(403, 404))
    async def cancel(self, request: web.Request) -> web.Response:
        """The owner takes an invitation back."""
        _, hub_id = await self.ctx.owner(request, "cancel invitations")
        invitation_id = request.match_info["invitation_id"]
        invitation = await self.ctx.store.invitation(invitation_id)
        if invitation is None or invitation.hub_id != hub_id:
            raise NotFound(f"no open invitation {invitation_id!r} for this home")
        await self.ctx.store.delete_invitation(invitation_id)
        return web.Response(status=204)

    @doc(
        "Take an account out of the home: the owner removes a member; anyone may remove "
        "themselves with the account id `me` (leave). The removed account loses access at "
        "once, its open event sockets close on every node",
        status=204,
        errors=(403, 404, 409),
    )
    async def remove(self, request: web.Request) -> web.Response:
        """The owner removes a member, or a member leaves ("me")."""
        ctx = self.ctx
        account_id, hub_id, role = await ctx.role(request)
        target = request.match_info["account_id"]
        if target in (ME, account_id):
            if role == OWNER:
                raise Conflict(
                    "the owner cannot leave a home; remove the hub with "
                    f"DELETE /v1/hubs/{hub_id} (every member goes too)"
                )
            await self.leave(account_id, hub_id)
            return web.Response(status=204)
        if role != OWNER:
            raise Forbidden("only the home's owner can remove members")
        if not await ctx.store.remove_claim(target, hub_id):
            raise NotFound(f"no member {target!r} in this home")
        await ctx.members_left(hub_id, [target], "the home's owner removed you from this home")
        return web.Response(status=204)

    async def leave(self, account_id: str, hub_id: str) -> None:
        """A member leaves (also DELETE /v1/hubs/{hub_id} by a member)."""
        await self.ctx.store.remove_claim(account_id, hub_id)
        await self.ctx.members_left(hub_id, [account_id], "you left this home")

    @doc("Invitations addressed to the signed-in account's e-mail", response=ref("Invitations"))
    async def my_invitations(self, request: web.Request) -> web.Response:
        """What the caller has been invited to."""
        account_id = await self.ctx.account(request)
        email = await self.ctx.store.account_email(account_id) or ""
        invitations = await self.ctx.store.invitations_for(email)
        return web.json_response(
            {"invitations": [await self.invitation_json(i) for i in invitations]}
        )

    async def _mine(self, request: web.Request) -> tuple[str, Invitation]:
        account_id = await self.ctx.account(request)
        invitation_id = request.match_info["invitation_id"]
        invitation = await self.ctx.store.invitation(invitation_id)
        email = await self.ctx.store.account_email(account_id)
        # Someone else's invitation answers like one that does not exist.
        if invitation is None or invitation.email != email:
            raise NotFound(f"no invitation {invitation_id!r} for you; GET /v1/invitations")
        return account_id, invitation

    @doc(
        "Accept an invitation: the account becomes a member; answers the hub as GET "
        "/v1/hubs/{hub_id} does",
        response=ref("Hub"),
        errors=(404,),
    )
    async def accept(self, request: web.Request) -> web.Response:
        """Join the home the invitation is for."""
        ctx = self.ctx
        account_id, invitation = await self._mine(request)
        if not await ctx.store.accept_invitation(invitation.id, account_id, time.time()):
            raise NotFound(f"the invitation {invitation.id!r} was cancelled or already used")
        hub_id = invitation.hub_id
        # Open apps of the home's people refresh their member lists.
        ctx.routing.publish(hub_id, {"type": "members", "hub_id": hub_id, "added": [account_id]})
        role = await ctx.store.role(account_id, hub_id)
        return web.json_response(await hub_summary(ctx, hub_id, role))

    @doc("Decline an invitation (it is deleted)", status=204, errors=(404,))
    async def decline(self, request: web.Request) -> web.Response:
        """Say no: the invitation goes."""
        _, invitation = await self._mine(request)
        await self.ctx.store.delete_invitation(invitation.id)
        return web.Response(status=204)
