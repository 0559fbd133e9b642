"""A local fake of Discord's REST API and gateway, for driving the real bot in tests.

It listens on 127.0.0.1 (a random port), serves the REST routes a bot calls
(``/gateway/bot``, ``/users/@me``, ``/oauth2/applications/@me``, command
sync, interaction callbacks, webhook follow-ups and edits, channel messages,
threads, DMs, typing), records every request with its JSON payload, and
speaks the gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats,
RESUME -> replayed events + RESUMED, INVALID_SESSION, RECONNECT, closes with
any code. Tests inject MESSAGE_CREATE and INTERACTION_CREATE events and wait
on recorded requests (never on sleeps).

Fault knobs (see ``fail`` and the helpers after it) make the next N matching
REST responses a 429 (global or not, shaped like Discord's so discord.py
honours it), a 500/502, a 403 50013, or a 404 for an expired interaction
token (10062 on the callback, 10015 on webhooks); the gateway can be closed
with a code, dropped without a close frame, invalidated, told to reconnect,
or stop acknowledging heartbeats.

discord.py parses JSON only when Content-Type is exactly ``application/json``
(aiohttp's json_response adds a charset), so responses are built by hand.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

DISCORD_EPOCH = 1420070400000
JSON = "application/json"
_ids = itertools.count(1)


def snowflake(at: float | None = None) -> int:
    """A new id shaped like Discord's (creation time ``at`` in the high bits), unique in this process."""
    at = time.time() if at is None else at
    return ((int(at * 1000) - DISCORD_EPOCH) << 22) | (next(_ids) & 0x3FFFFF)


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A new id whose gateway shard is ``shard_id``: Discord routes a guild to ``(id >> 22) % shard_count``."""
    base = snowflake()
    stamp = base >> 22
    stamp -= (stamp - shard_id) % shard_count
    return (stamp << 22) | (base & 0x3FFFFF)


@dataclass
class _Session:
    """One gateway shard's session: its connection and the events kept for RESUME."""

    ws: web.WebSocketResponse | None = None
    session_id: str | None = None
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    identifies: int = 0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def user_json(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
            "bot": bot, "public_flags": 0, "flags": 0}


@dataclass
class Request:
    """One request the bot made: method, path (without the API prefix), query, JSON body, our status."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class Fault:
    """The next ``times`` requests matching ``method`` and ``path`` (a regex) get this response."""

    path: str
    status: int
    body: Any
    method: str | None = None
    times: int | None = 1  # None: every matching request
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.times is None or self.hits < self.times) and \
            (self.method is None or self.method == method) and re.search(self.path, path) is not None


@dataclass
class Interaction:
    """An injected interaction: its id and token, to find the bot's responses to it."""

    id: int
    token: str
    data: dict[str, Any]


class FakeDiscord:
    """The fake. ``async with FakeDiscord() as fake:`` then point the bot at ``fake.base_url``."""

    def __init__(self, *, token: str = "fake-token.storybot.test", heartbeat_interval: float = 0.5,
                 guild_count: int = 1, shard_count: int = 1) -> None:
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.app_id = snowflake()
        self.bot_user = user_json(self.app_id, "storybot", bot=True)
        self.owner = user_json(snowflake(), "owner")
        self.users: dict[int, dict[str, Any]] = {int(self.owner["id"]): self.owner}
        # Sharded (shard_count > 1): guild i is on shard i % shard_count (guild_id on shard 0), and each
        # shard's events go only to the connection that identified as that shard, as on Discord.
        self.shard_count = shard_count
        self.guild_id = snowflake_on_shard(0, shard_count)
        self.admin_role_id = snowflake()
        self.channel_id = snowflake()  # #general
        self.other_channel_id = snowflake()  # #random
        self.guilds = [self._guild(self.guild_id)] + [self._guild(snowflake_on_shard(i % shard_count, shard_count))
                                                      for i in range(1, max(guild_count, shard_count))]
        self.channels: dict[int, dict[str, Any]] = {}
        for g in self.guilds:
            for c in g["channels"]:
                self.channels[int(c["id"])] = {**c, "guild_id": g["id"]}
        self.messages: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()  # ids of messages people deleted (delete_message)
        self.threads: dict[int, dict[str, Any]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> synced
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.rest_delay = 0.0  # seconds added to every REST response (load tests)
        self.ack_heartbeats = True
        self.reject_identify_code: int | None = None  # close IDENTIFY with this code (e.g. 4004, 4014)
        # gateway state: one session per shard; ws, session_id, seq and events below are shard 0's
        self.sessions: dict[int, _Session] = {0: _Session()}
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.gateway_frames: list[dict[str, Any]] = []  # every frame the bot sent
        self.intents: int | None = None
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> the injected interaction
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # shard 0's session (the only one unless the bot is sharded) ------------------------------

    @property
    def ws(self) -> web.WebSocketResponse | None:
        return self.sessions[0].ws

    @ws.setter
    def ws(self, value: web.WebSocketResponse | None) -> None:
        self.sessions[0].ws = value

    @property
    def session_id(self) -> str | None:
        return self.sessions[0].session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self.sessions[0].session_id = value

    @property
    def seq(self) -> int:
        return self.sessions[0].seq

    @seq.setter
    def seq(self, value: int) -> None:
        self.sessions[0].seq = value

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.sessions[0].events

    @events.setter
    def events(self, value: list[dict[str, Any]]) -> None:
        self.sessions[0].events = value

    def shard_of(self, guild_id: int | str | None) -> int:
        """The shard Discord sends a guild's events to (DMs: shard 0)."""
        return 0 if guild_id is None else (int(guild_id) >> 22) % self.shard_count

    def guilds_on(self, shard_id: int) -> list[dict[str, Any]]:
        return [g for g in self.guilds if self.shard_of(g["id"]) == shard_id]

    async def wait_shards_ready(self, shard_ids: list[int] | range, timeout: float = 20.0) -> None:
        """Until each of ``shard_ids`` has identified and been sent READY and its GUILD_CREATEs."""
        def ready() -> bool:
            for i in shard_ids:
                sess = self.sessions.get(i)
                if sess is None or sess.ws is None or not sess.identifies or sess.seq < 1 + len(self.guilds_on(i)):
                    return False
            return True
        await self.wait_until(ready, timeout, f"shards {list(shard_ids)} ready")

    # lifecycle ------------------------------------------------------------------------------

    async def start(self) -> "FakeDiscord":
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for sess in list(self.sessions.values()):
            if sess.ws is not None and not sess.ws.closed:
                await sess.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeDiscord":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # people, guilds, channels ----------------------------------------------------------------

    def _guild(self, gid: int) -> dict[str, Any]:
        text = lambda cid, name, pos: {"id": str(cid), "type": 0, "name": name, "position": pos,  # noqa: E731
                                       "permission_overwrites": [], "nsfw": False, "topic": None,
                                       "rate_limit_per_user": 0, "parent_id": None, "last_message_id": None}
        first = gid == getattr(self, "guild_id", None)
        channels = [text(self.channel_id, "general", 0), text(self.other_channel_id, "random", 1)] if first \
            else [text(snowflake(), "general", 0)]
        role = lambda rid, name, perms: {"id": str(rid), "name": name, "permissions": str(perms), "position": 0,  # noqa: E731
                                         "color": 0, "hoist": False, "managed": False, "mentionable": False,
                                         "flags": 0}
        return {
            "id": str(gid), "name": "Newsroom", "unavailable": False, "owner_id": self.owner["id"],
            "roles": [role(gid, "@everyone", 1 << 10 | 1 << 11 | 1 << 31),
                      role(self.admin_role_id, "storybot admins", 1 << 5)],
            "channels": channels, "threads": [], "members": [], "member_count": 3, "emojis": [], "stickers": [],
            "features": [], "joined_at": now_iso(), "large": False, "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "premium_tier": 0, "preferred_locale": "en-US",
            "system_channel_flags": 0, "verification_level": 0, "mfa_level": 0, "explicit_content_filter": 0,
            "default_message_notifications": 0, "nsfw_level": 0, "afk_timeout": 300, "icon": None,
            "description": None, "application_id": None, "soundboard_sounds": [],
        }

    def user(self, name: str = "reader", uid: int | None = None) -> dict[str, Any]:
        """A new (or known) person, as a Discord user object."""
        uid = uid or snowflake()
        self.users.setdefault(uid, user_json(uid, name))
        return self.users[uid]

    def member(self, user: dict[str, Any], roles: list[int] = ()) -> dict[str, Any]:
        return {"user": user, "roles": [str(r) for r in roles], "joined_at": now_iso(), "deaf": False,
                "mute": False, "flags": 0, "nick": None, "avatar": None, "premium_since": None, "pending": False,
                "permissions": str((1 << 11) | (1 << 10))}

    def dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        for c in self.channels.values():
            if c["type"] == 1 and c["recipients"][0]["id"] == user["id"]:
                return c
        cid = snowflake()
        self.channels[cid] = {"id": str(cid), "type": 1, "recipients": [user], "last_message_id": None}
        return self.channels[cid]

    # recording and waiting ---------------------------------------------------------------------

    def mark(self) -> int:
        """The number of requests so far: pass it as ``after`` to wait only for newer ones."""
        return len(self.requests)

    def find(self, method: str | None = None, path: str = "", *, after: int = 0) -> list[Request]:
        return [r for r in self.requests[after:]
                if (method is None or r.method == method) and re.search(path, r.path)]

    async def wait_for(self, method: str | None = None, path: str = "", *, after: int = 0, count: int = 1,
                       timeout: float = 5.0, where: Callable[[Request], bool] | None = None) -> Request:
        """The ``count``-th request (after index ``after``) matching; raises TimeoutError after ``timeout`` s."""
        def found() -> list[Request]:
            return [r for r in self.find(method, path, after=after) if where is None or where(r)]
        return (await self._wait(lambda: len(found()) >= count, timeout,
                                 f"{count} x {method or '*'} {path!r} after #{after}", found))[count - 1]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        await self._wait(condition, timeout, what, lambda: None)

    async def _wait(self, cond: Callable[[], bool], timeout: float, what: str, result: Callable[[], Any]) -> Any:
        # Woken by every request and gateway frame, and re-checked every 20 ms for
        # conditions on the bot's side (a cache filled by an event, a file written).
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(map(repr, self.requests[-15:]))
                    raise TimeoutError(f"fake Discord: no {what} within {timeout} s; last requests:\n  {seen}")
                try:
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.02))
                except asyncio.TimeoutError:
                    pass
        return result()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_ready(self, timeout: float = 10.0, identifies: int = 1) -> None:
        """Until the bot has identified ``identifies`` times and was sent READY and GUILD_CREATE."""
        await self.wait_until(lambda: self.identifies >= identifies and self.ws is not None and self.seq >= 1 + len(self.guilds),
                              timeout, f"IDENTIFY #{identifies}")

    # faults ------------------------------------------------------------------------------------

    def fail(self, path: str, status: int, body: Any = None, *, method: str | None = None, times: int | None = 1,
             headers: dict[str, str] | None = None) -> Fault:
        """The next ``times`` (None: all) requests whose path matches the regex ``path`` get this response."""
        fault = Fault(path, status, body, method, times, dict(headers or {}))
        self.faults.append(fault)
        return fault

    def rate_limit(self, path: str = "", *, times: int = 1, retry_after: float = 0.05, global_: bool = False,
                   method: str | None = None) -> Fault:
        """429s shaped like Discord's (Via header, JSON retry_after), so discord.py waits and retries."""
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
                   "X-RateLimit-Scope": "global" if global_ else "user"}
        if global_:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset-After": str(retry_after), "X-RateLimit-Bucket": "fakebucket"})
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_, "code": 0}
        return self.fail(path, 429, body, method=method, times=times, headers=headers)

    def server_error(self, path: str = "", *, times: int = 1, status: int = 500, method: str | None = None) -> Fault:
        """500 with Discord's JSON, or 502 with an HTML body as a proxy in front of it sends."""
        body = {"message": "500: Internal Server Error", "code": 0} if status == 500 else \
            "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return self.fail(path, status, body, method=method, times=times)

    def forbid(self, path: str = "", *, times: int | None = 1, method: str | None = None) -> Fault:
        """403 Missing Permissions (50013), as for a channel where the bot may not send or embed."""
        return self.fail(path, 403, {"message": "Missing Permissions", "code": 50013}, method=method, times=times)

    def expire_interactions(self, *, times: int | None = None) -> list[Fault]:
        """Interaction tokens expired: callbacks get 404 10062, webhook follow-ups and edits 404 10015."""
        return [self.fail(r"^/interactions/\d+/[^/]+/callback$", 404, {"message": "Unknown interaction", "code": 10062},
                          times=times),
                self.fail(r"^/webhooks/\d+/[^/]+", 404, {"message": "Unknown Webhook", "code": 10015}, times=times)]

    def unknown_message(self, path: str = r"^/channels/\d+/messages$", *, times: int = 1) -> Fault:
        """The replied-to message was deleted: 400 Invalid Form Body on message_reference."""
        return self.fail(path, 400, {"message": "Invalid Form Body", "code": 50035, "errors": {"message_reference": {
            "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}},
            method="POST", times=times)

    # history and deletions -------------------------------------------------------------------

    def forget(self) -> None:
        """Drop what the fake has recorded so far (requests, messages, answered interactions, this
        session's replay log), so long fault and load runs measure the bot's memory, not the fake's.
        Call it while the bot is connected and idle: events dispatched before it are not replayed."""
        self.requests.clear()
        self.messages = {mid: m for mid, m in self.messages.items() if mid in self.threads}
        self._interactions.clear()
        for sess in self.sessions.values():
            sess.events.clear()
        self.gateway_frames.clear()

    async def delete_message(self, message: dict[str, Any]) -> None:
        """Someone deleted ``message``: it is gone from the store and MESSAGE_DELETE is sent. A reply
        referencing it then loses the reference (``fail_if_not_exists: false``) or gets 400 50035."""
        mid = int(message["id"])
        self.messages.pop(mid, None)
        self.deleted.add(mid)
        data = {"id": message["id"], "channel_id": message["channel_id"]}
        if message.get("guild_id"):
            data["guild_id"] = message["guild_id"]
        await self.dispatch("MESSAGE_DELETE", data)

    # REST ---------------------------------------------------------------------------------------

    def _respond(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> web.Response:
        headers = dict(headers or {})
        if status == 204 or body is None:
            return web.Response(status=status if body is not None or status != 200 else 204, headers=headers)
        if isinstance(body, str):
            headers.setdefault("Content-Type", "text/html")
            return web.Response(status=status, body=body.encode(), headers=headers)
        headers["Content-Type"] = JSON  # exactly: discord.py compares the whole header
        return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        raw = await request.read()
        body: Any = None
        if raw and request.content_type == JSON:
            body = json.loads(raw)
        elif raw:
            body = {"raw": raw.decode("utf-8", "replace"), "content_type": request.content_type}
        headers = {k: v for k, v in request.headers.items()}
        rec = Request(request.method, path, dict(request.query), body, headers)
        self.requests.append(rec)
        if self.rest_delay:
            await asyncio.sleep(self.rest_delay)
        try:
            status, out, extra = self._route(request.method, path, body, headers)
        except _Reply as reply:
            status, out, extra = reply.status, reply.body, reply.headers
        rec.status = status
        await self._notify()
        return self._respond(status, out, extra)

    def _route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.hits += 1
                return fault.status, fault.body, fault.headers
        webhook = path.startswith("/webhooks/") or path.startswith("/interactions/")
        if not webhook and headers.get("Authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        for pattern, verb, handler in self._routes():
            m = re.fullmatch(pattern, path)
            if m and verb == method:
                return handler(body, *m.groups())
        return 404, {"message": "404: Not Found", "code": 0}, {}

    def _routes(self) -> list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]]:
        ok = lambda data: (200, data, {})  # noqa: E731
        return [
            (r"/users/@me", "GET", lambda b: ok(self.bot_user)),
            (r"/oauth2/applications/@me", "GET", lambda b: ok(self._application())),
            (r"/applications/@me", "GET", lambda b: ok(self._application())),
            (r"/gateway/bot", "GET", lambda b: ok({"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})),
            (r"/gateway", "GET", lambda b: ok({"url": self.gateway_url})),
            (r"/applications/(\d+)/commands", "PUT", lambda b, app: ok(self._sync(None, b))),
            (r"/applications/(\d+)/guilds/(\d+)/commands", "PUT", lambda b, app, g: ok(self._sync(int(g), b))),
            (r"/applications/(\d+)/commands", "GET", lambda b, app: ok(self.commands.get(None, []))),
            (r"/applications/(\d+)/guilds/(\d+)/commands", "GET", lambda b, app, g: ok(self.commands.get(int(g), []))),
            (r"/interactions/(\d+)/([^/]+)/callback", "POST", self._callback),
            (r"/webhooks/(\d+)/([^/]+)", "POST", lambda b, app, tok: ok(self._followup(tok, b))),
            (r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)", "PATCH", lambda b, app, tok, mid: ok(self._edit_webhook(tok, mid, b))),
            (r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)", "GET", lambda b, app, tok, mid: ok(self._webhook_message(tok, mid))),
            (r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)", "DELETE", lambda b, app, tok, mid: (204, None, {})),
            (r"/channels/(\d+)/messages", "POST", lambda b, cid: ok(self._bot_message(int(cid), b))),
            (r"/channels/(\d+)/messages/(\d+)", "PATCH", lambda b, cid, mid: ok(self._edit(int(mid), b))),
            (r"/channels/(\d+)/messages/(\d+)", "DELETE", lambda b, cid, mid: (204, None, {})),
            (r"/channels/(\d+)/messages/(\d+)/threads", "POST", lambda b, cid, mid: ok(self._thread(int(cid), b, int(mid)))),
            (r"/channels/(\d+)/threads", "POST", lambda b, cid: ok(self._thread(int(cid), b, None))),
            (r"/channels/(\d+)/typing", "POST", lambda b, cid: (204, None, {})),
            (r"/channels/(\d+)", "GET", lambda b, cid: ok(self._channel(int(cid)))),
            (r"/users/@me/channels", "POST", lambda b: ok(self.dm_channel(self.users.get(int(b["recipient_id"]))
                                                                           or self.user(uid=int(b["recipient_id"]))))),
            (r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", "PUT", lambda b, cid, mid, e: (204, None, {})),
        ]

    def _application(self) -> dict[str, Any]:
        return {"id": str(self.app_id), "name": "storybot", "description": "", "icon": None, "bot_public": True,
                "bot_require_code_grant": False, "owner": self.owner, "verify_key": "0" * 64, "team": None,
                "flags": 0, "summary": "", "rpc_origins": [], "bot": self.bot_user}

    def _sync(self, guild: int | None, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        synced = []
        for c in commands:
            synced.append({"id": str(snowflake()), "application_id": str(self.app_id), "version": str(snowflake()),
                           "guild_id": str(guild) if guild else None, "description": "", "options": [],
                           "default_member_permissions": None, "nsfw": False, **c})
        self.commands[guild] = synced
        return synced

    def _channel(self, cid: int) -> dict[str, Any]:
        channel = self.channels.get(cid)
        if channel is None:
            raise _Reply(404, {"message": "Unknown Channel", "code": 10003})
        return channel

    def _message(self, cid: int, body: dict[str, Any], author: dict[str, Any], **extra: Any) -> dict[str, Any]:
        mid = snowflake()
        channel = self.channels.get(cid, {})
        msg = {
            "id": str(mid), "channel_id": str(cid), "author": author, "content": body.get("content") or "",
            "timestamp": now_iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": body.get("embeds") or [],
            "components": body.get("components") or [], "pinned": False, "type": 0,
            "flags": body.get("flags") or 0, **extra,
        }
        if channel.get("guild_id"):
            msg["guild_id"] = channel["guild_id"]
        ref = body.get("message_reference")
        if ref and ref.get("message_id") and int(ref["message_id"]) in self.deleted:
            if ref.get("fail_if_not_exists", True):
                raise _Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": {"message_reference": {
                    "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}})
            ref = None  # Discord sends the message without the reply when told not to fail
        if ref:
            msg["type"] = 19
            msg["message_reference"] = ref
        self.messages[mid] = msg
        return msg

    def _bot_message(self, cid: int, body: dict[str, Any]) -> dict[str, Any]:
        if cid not in self.channels:
            raise _Reply(404, {"message": "Unknown Channel", "code": 10003})
        return self._message(cid, body, self.bot_user)

    def _edit(self, mid: int, body: dict[str, Any]) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None:
            raise _Reply(404, {"message": "Unknown Message", "code": 10008})
        msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components", "flags")})
        msg["edited_timestamp"] = now_iso()
        return msg

    def _thread(self, cid: int, body: dict[str, Any], mid: int | None) -> dict[str, Any]:
        parent = self._channel(cid)
        if mid is not None and mid in self.deleted:
            raise _Reply(404, {"message": "Unknown Message", "code": 10008})
        tid = mid or snowflake()  # a thread from a message has the message's id, as on Discord
        thread = {"id": str(tid), "guild_id": parent.get("guild_id"), "parent_id": str(cid), "type": 11,
                  "name": body.get("name", ""), "owner_id": self.bot_user["id"], "message_count": 0,
                  "member_count": 1, "rate_limit_per_user": 0, "flags": 0, "last_message_id": None,
                  "thread_metadata": {"archived": False, "auto_archive_duration": body.get("auto_archive_duration", 1440),
                                      "archive_timestamp": now_iso(), "locked": False}}
        self.threads[tid] = thread
        self.channels[tid] = thread
        asyncio.get_running_loop().create_task(self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}))
        return thread

    # interactions -------------------------------------------------------------------------------

    def _interaction_by_token(self, token: str) -> dict[str, Any]:
        found = self._interactions.get(token)
        if found is None:
            raise _Reply(404, {"message": "Unknown Webhook", "code": 10015})
        return found

    def _callback(self, body: dict[str, Any], iid: str, token: str) -> tuple[int, Any, dict[str, str]]:
        inter = self._interactions.get(token)
        if inter is None or inter["id"] != iid:
            return 404, {"message": "Unknown interaction", "code": 10062}, {}
        if inter.get("responded"):
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}, {}
        inter["responded"] = True
        kind = body.get("type")
        data = body.get("data") or {}
        channel_id = int(inter["channel_id"])
        resource: dict[str, Any] = {"type": kind}
        response: dict[str, Any] = {"id": iid, "type": inter["type"]}
        if kind in (4, 5):
            msg_body = data if kind == 4 else {"content": "", "flags": data.get("flags", 0) | 128}
            msg = self._message(channel_id, msg_body, self.bot_user, interaction_metadata={
                "id": iid, "type": inter["type"], "user": inter["user"], "authorizing_integration_owners": {}})
            msg["webhook_id"] = str(self.app_id)
            inter["original"] = msg
            resource["message"] = msg
            response.update(response_message_id=msg["id"], response_message_loading=kind == 5,
                            response_message_ephemeral=bool(data.get("flags", 0) & 64))
        elif kind in (6, 7):
            target = inter.get("message")
            if target is not None:
                inter["original"] = self.messages.get(int(target["id"]), target)  # '@original' is the pressed message
                msg = self._edit(int(target["id"]), data) if kind == 7 else self.messages.get(int(target["id"]), target)
                resource["message"] = msg
                response["response_message_id"] = msg["id"]
        return 200, {"interaction": response, "resource": resource}, {}

    def _followup(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        inter = self._interaction_by_token(token)
        original = inter.get("original")
        if original is not None and original["flags"] & 128:  # the first follow-up replaces "thinking..."
            original.update(content=body.get("content") or "", embeds=body.get("embeds") or [],
                            components=body.get("components") or [],
                            flags=(original["flags"] & ~128) | (body.get("flags") or 0))
            return original
        return self._message(int(inter["channel_id"]), body, self.bot_user, webhook_id=str(self.app_id))

    def _webhook_message(self, token: str, mid: str) -> dict[str, Any]:
        inter = self._interaction_by_token(token)
        msg = inter.get("original") if mid == "@original" else self.messages.get(int(mid))
        if msg is None:
            raise _Reply(404, {"message": "Unknown Message", "code": 10008})
        return msg

    def _edit_webhook(self, token: str, mid: str, body: dict[str, Any]) -> dict[str, Any]:
        msg = self._webhook_message(token, mid)
        return self._edit(int(msg["id"]), body)

    def _base_interaction(self, kind: int, data: dict[str, Any], user: dict[str, Any] | None,
                          channel_id: int | None, dm: bool, roles: list[int], age: float = 0.0,
                          permissions: int | None = None) -> dict[str, Any]:
        user = user or self.user()
        iid = snowflake(time.time() - age)
        token = f"itoken-{iid}"
        inter: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.app_id), "type": kind, "data": data, "token": token,
            "version": 1, "locale": "en-US", "entitlements": [], "app_permissions": str((1 << 51) - 1),
            "authorizing_integration_owners": {"0": self.guild_id} if not dm else {"1": user["id"]},
            "attachment_size_limit": 8 << 20, "user": user,
        }
        if dm:
            channel = self.dm_channel(user)
            inter.update(channel_id=channel["id"], channel=channel, context=1)
        else:
            cid = channel_id or self.channel_id
            channel = self.channels[cid]
            inter.update(channel_id=str(cid), channel=channel, guild_id=channel["guild_id"], context=0,
                         guild_locale="en-US", member=self.member(user, roles))
            inter["member"]["permissions"] = str((1 << 11) | (1 << 10) if permissions is None else permissions)
            inter["guild"] = {"id": channel["guild_id"], "locale": "en-US", "features": []}
        return inter

    async def interact(self, kind: int, data: dict[str, Any], *, user: dict[str, Any] | None = None,
                       channel_id: int | None = None, dm: bool = False, roles: list[int] = (),
                       message: dict[str, Any] | None = None, age: float = 0.0,
                       permissions: int | None = None) -> Interaction:
        """Inject an INTERACTION_CREATE of any type; returns its id and token.

        ``age`` makes the interaction that many seconds old (its id carries the time),
        as when Discord delivers it late: the bot then has less of its 3 s left.
        """
        inter = self._base_interaction(kind, data, user, channel_id, dm, list(roles), age, permissions)
        if message is not None:
            inter["message"] = message
        self._interactions[inter["token"]] = inter
        await self.dispatch("INTERACTION_CREATE", {k: v for k, v in inter.items() if k != "user" or dm})
        return Interaction(int(inter["id"]), inter["token"], inter)

    def _command(self, name: str, kind: int = 1) -> dict[str, Any]:
        for guild in (self.guild_id, None):
            for c in self.commands.get(guild, []):
                if c["name"] == name and c.get("type", 1) == kind:
                    return c
        raise KeyError(f"command {name!r} (type {kind}) was not synced; synced: "
                       f"{[c['name'] for cs in self.commands.values() for c in cs]}")

    @staticmethod
    def _option_type(value: Any) -> int:
        return 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 10 if isinstance(value, float) else 3

    async def slash(self, name: str, *, user: dict[str, Any] | None = None, channel_id: int | None = None,
                    dm: bool = False, roles: list[int] = (), age: float = 0.0, subcommand: str | None = None,
                    permissions: int | None = None, **options: Any) -> Interaction:
        """Inject a slash command as a user runs it: ``await fake.slash("ask", question="...")``;
        ``subcommand`` for a group (``fake.slash("story", subcommand="set", story="x")``); ``permissions``
        the member's permission bits in the channel (default: view channel and send messages)."""
        cmd = self._command(name)
        opts = [{"name": k, "type": self._option_type(v), "value": v} for k, v in options.items()]
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self.interact(2, data, user=user, channel_id=channel_id, dm=dm, roles=roles, age=age,
                                   permissions=permissions)

    async def autocomplete(self, name: str, option: str, value: str, *, user: dict[str, Any] | None = None,
                           subcommand: str | None = None, **others: Any) -> Interaction:
        cmd = self._command(name)
        opts = [{"name": k, "type": self._option_type(v), "value": v} for k, v in others.items()]
        opts.append({"name": option, "type": 3, "value": value, "focused": True})
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        return await self.interact(4, {"id": cmd["id"], "name": name, "type": 1, "options": opts}, user=user)

    async def context_menu(self, name: str, target: dict[str, Any], *, user: dict[str, Any] | None = None) -> Interaction:
        """Inject a message context-menu command on ``target`` (a message dict from ``message``)."""
        cmd = self._command(name, kind=3)
        data = {"id": cmd["id"], "name": name, "type": 3, "target_id": target["id"],
                "resolved": {"messages": {target["id"]: target}}}
        return await self.interact(2, data, user=user, channel_id=int(target["channel_id"]),
                                   dm="guild_id" not in target)

    async def click(self, message: dict[str, Any], custom_id_prefix: str, *, user: dict[str, Any] | None = None) -> Interaction:
        """Press the button whose custom_id starts with ``custom_id_prefix`` on a message the bot sent."""
        message = self.messages.get(int(message["id"]), message)
        for row in message.get("components") or []:
            for comp in row.get("components") or []:
                if comp.get("custom_id", "").startswith(custom_id_prefix):
                    channel_id = int(message["channel_id"])
                    return await self.interact(3, {"custom_id": comp["custom_id"], "component_type": comp["type"]},
                                               user=user, channel_id=channel_id,
                                               dm=self.channels.get(channel_id, {}).get("type") == 1, message=message)
        raise KeyError(f"no button {custom_id_prefix!r} on message {message['id']}")

    async def response(self, interaction: Interaction, timeout: float = 5.0) -> Request:
        """The bot's first response to ``interaction`` (its callback POST)."""
        return await self.wait_for("POST", rf"^/interactions/{interaction.id}/{re.escape(interaction.token)}/callback$",
                                   timeout=timeout)

    def original(self, interaction: Interaction) -> dict[str, Any]:
        """The message the bot's first response to ``interaction`` created (as stored by the fake)."""
        msg = self._interactions[interaction.token].get("original")
        if msg is None:
            raise KeyError(f"interaction {interaction.id} has no response message yet")
        return msg

    async def answer_to(self, interaction: Interaction, timeout: float = 5.0) -> dict[str, Any]:
        """The message payload the user finally sees: the callback's data, or the follow-up after a defer."""
        cb = await self.response(interaction, timeout)
        if cb.json.get("type") != 5:
            return cb.json.get("data") or {}
        follow = await self.wait_for("POST", rf"^/webhooks/\d+/{re.escape(interaction.token)}$", timeout=timeout)
        return follow.json

    # messages -----------------------------------------------------------------------------------

    async def message(self, content: str, *, user: dict[str, Any] | None = None, channel_id: int | None = None,
                      dm: bool = False, mention_bot: bool = False, roles: list[int] = ()) -> dict[str, Any]:
        """Inject a MESSAGE_CREATE from a person; ``mention_bot`` adds ``<@bot>`` and the mention entry."""
        user = user or self.user()
        if mention_bot:
            content = f"<@{self.app_id}> {content}"
        if dm:
            cid = int(self.dm_channel(user)["id"])
        else:
            cid = channel_id or self.channel_id
        mentions = []
        for uid in {int(x) for x in re.findall(r"<@!?(\d+)>", content)}:
            if uid == self.app_id:
                mentions.append(self.bot_user)
            elif uid in self.users:
                mentions.append(self.users[uid])
        msg = self._message(cid, {"content": content}, user, mentions=mentions,
                            mention_everyone="@everyone" in content or "@here" in content,
                            mention_roles=re.findall(r"<@&(\d+)>", content))
        if not dm:
            msg["member"] = {k: v for k, v in self.member(user, list(roles)).items() if k != "user"}
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    def bot_messages(self, channel_id: int | None = None, *, after: int = 0) -> list[Request]:
        """Messages the bot posted (channel sends), optionally in one channel."""
        path = rf"^/channels/{channel_id}/messages$" if channel_id else r"^/channels/\d+/messages$"
        return self.find("POST", path, after=after)

    # gateway ------------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any], *, shard: int | None = None) -> None:
        """Send a DISPATCH to the bot (kept for RESUME replay; queued while disconnected), on the shard
        of the guild it concerns."""
        if shard is None:
            guild = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
            shard = self.shard_of(guild)
        sess = self.sessions.setdefault(shard, _Session())
        sess.seq += 1
        frame = {"op": 0, "t": event, "s": sess.seq, "d": data}
        sess.events.append(frame)
        if sess.ws is not None and not sess.ws.closed:
            try:
                await sess.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                pass

    async def _send(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        if self.shard_count == 1:
            self.ws = ws  # sharded: the connection is a shard's once it says which (IDENTIFY or RESUME)
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.gateway_frames.append(frame)
                await self._on_frame(ws, frame)
        finally:
            for sess in self.sessions.values():
                if sess.ws is ws:
                    sess.ws = None
            await self._notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            if self.ack_heartbeats:
                await self._send(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if d.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return
            if self.reject_identify_code:
                await ws.close(code=self.reject_identify_code, message=b"Refused.")
                return
            shard_id, shard_count = d.get("shard") or (0, 1)
            if shard_count != self.shard_count or not 0 <= shard_id < shard_count:
                await ws.close(code=4010, message=b"Invalid shard.")
                return
            self.intents = d.get("intents")
            self.identifies += 1
            sess = self.sessions.setdefault(shard_id, _Session())
            sess.ws, sess.session_id, sess.seq, sess.events = ws, f"session-{snowflake()}", 0, []
            sess.identifies += 1
            await self.dispatch("READY", {
                "v": 10, "user": self.bot_user, "session_id": sess.session_id, "resume_gateway_url": self.gateway_url,
                "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds_on(shard_id)],
                "application": {"id": str(self.app_id), "flags": 0}, "private_channels": [], "relationships": [],
                "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [], "user_settings": {},
                "shard": [shard_id, shard_count],
            }, shard=shard_id)
            for g in self.guilds_on(shard_id):
                await self.dispatch("GUILD_CREATE", {**g, "threads": [t for t in self.threads.values()
                                                                     if t["guild_id"] == g["id"]]})
        elif op == 6:
            if d.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return
            found = [i for i, sess in self.sessions.items() if sess.session_id and sess.session_id == d.get("session_id")]
            if not found:
                await self._send(ws, {"op": 9, "d": False, "s": None, "t": None})
                return
            sess = self.sessions[found[0]]
            sess.ws = ws
            self.resumes += 1
            since = d.get("seq") or 0
            for f in [f for f in sess.events if f["s"] > since]:
                await self._send(ws, f)
            await self.dispatch("RESUMED", {}, shard=found[0])
        await self._notify()

    async def close_gateway(self, code: int = 4000, message: str = "fake close", *,
                            forget_session: bool = False) -> None:
        """Close the bot's websocket with ``code``. discord.py reconnects and RESUMEs after any code but
        4004 and 4010-4014 (a remote 1000 included). ``forget_session`` ends the session too, as Discord
        does with 4007 and 4009, so the RESUME gets INVALID_SESSION and the bot identifies again."""
        if forget_session:
            self.session_id = None
        if self.ws is not None:
            await self.ws.close(code=code, message=message.encode())

    async def drop_gateway(self) -> None:
        """Cut the TCP connection without a close frame (a network drop)."""
        ws = self.ws
        if ws is not None and ws._req is not None and ws._req.transport is not None:  # type: ignore[attr-defined]
            ws._req.transport.abort()  # type: ignore[attr-defined]

    async def invalid_session(self, resumable: bool = False) -> None:
        """Send INVALID_SESSION; not resumable also forgets the session, so a RESUME fails too."""
        if not resumable:
            self.session_id = None
        if self.ws is not None:
            await self._send(self.ws, {"op": 9, "d": resumable, "s": None, "t": None})

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        if self.ws is not None:
            await self._send(self.ws, {"op": 7, "d": None, "s": None, "t": None})


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
