"""Messages, channels and stored commands inside the fake: creating, editing, deleting, and the
gateway echo (MESSAGE_CREATE/UPDATE/DELETE) Discord sends for them."""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING, Any

from .models import (
    DM_CHANNEL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeUser,
    Snowflakes,
    iso,
)
from .records import EPHEMERAL, InteractionRecord, MessageRecord, Notifier

if TYPE_CHECKING:
    from .gateway import Gateway

UploadedFile = tuple[str, bytes, str]

# Fields a message create/edit body may set on the stored message.
_EDITABLE = ("content", "embeds", "components")
_EVERYONE = re.compile(r"@(?:everyone|here)")


def mentions_everyone(body: dict[str, Any]) -> bool:
    """Discord's rule: @everyone or @here in the content pings everyone unless the body's
    allowed_mentions leaves "everyone" out of "parse" (a body without it pings)."""
    allowed = body.get("allowed_mentions")
    parse = ["everyone", "users", "roles"] if allowed is None else allowed.get("parse") or []
    return "everyone" in parse and bool(_EVERYONE.search(body.get("content") or ""))


class MessagesMixin:
    """Message store of `FakeDiscord`; the attributes below are set in its constructor."""

    snowflakes: Snowflakes
    application_id: int
    bot_user: FakeUser
    guilds: dict[int, FakeGuild]
    users: dict[int, FakeUser]
    messages: dict[int, MessageRecord]
    attachments: dict[int, FakeAttachment]
    commands: dict[int | None, list[dict[str, Any]]]
    dm_channels: dict[int, int]
    notifier: Notifier
    gateway: Gateway
    echo_messages: bool
    app_permissions: int

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    # -- lookups ------------------------------------------------------------------------------

    def user(self, user_id: int) -> FakeUser:
        """The user with this id, created (as `user<id>`) on first use."""
        if user_id == self.bot_user.id:
            return self.bot_user
        if user_id not in self.users:
            self.users[user_id] = FakeUser(user_id)
        return self.users[user_id]

    def guild_of_channel(self, channel_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds.values() if g.channel(channel_id)), None)

    def dm_channel(self, user_id: int) -> int:
        """The id of the DM channel between the bot and this user."""
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.snowflakes.next()
        return self.dm_channels[user_id]

    def channel_payload(self, channel_id: int) -> dict[str, Any] | None:
        guild = self.guild_of_channel(channel_id)
        if guild is not None:
            channel = guild.channel(channel_id)
            return channel.payload(guild.id, self.bot_user.id)  # type: ignore[union-attr]
        for user_id, dm_id in self.dm_channels.items():
            if dm_id == channel_id:
                recipients = [self.user(user_id).payload()]
                return {"id": str(dm_id), "type": DM_CHANNEL, "recipients": recipients}
        return None

    def bot_permissions_in(self, channel_id: int) -> int:
        """What the bot may do in a channel (a thread: in its channel)."""
        guild = self.guild_of_channel(channel_id)
        channel = guild.channel(channel_id) if guild else None
        if channel is not None and channel.is_thread and channel.parent_id is not None:
            channel = guild.channel(channel.parent_id)  # type: ignore[union-attr]
        if channel is None or channel.bot_permissions is None:
            return self.app_permissions
        return channel.bot_permissions

    @property
    def threads(self) -> list[FakeChannel]:
        """Every thread, in the order they were started."""
        return [t for g in self.guilds.values() for t in g.threads]

    def channel_messages(self, channel_id: int) -> list[MessageRecord]:
        """Undeleted, non-ephemeral messages in a channel, oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and m.deleted_at is None and not m.ephemeral
        ]

    def bot_messages(self) -> list[MessageRecord]:
        """Every message the bot created (channel messages and interaction replies)."""
        return [m for m in self.messages.values() if m.author_id == self.bot_user.id]

    # -- attachments --------------------------------------------------------------------------

    def add_attachment(
        self, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> FakeAttachment:
        """Serve `data` at a URL on the fake; pass the result as an attachment option value."""
        attachment_id = self.snowflakes.next()
        url = f"{self.base_url}/attachments/{attachment_id}/{filename}"
        attachment = FakeAttachment(attachment_id, filename, data, content_type, url)
        self.attachments[attachment_id] = attachment
        return attachment

    def _uploaded(self, body: dict[str, Any], files: list[UploadedFile]) -> list[dict[str, Any]]:
        kept = [a for a in body.get("attachments", []) if a.get("url")]
        added = [self.add_attachment(name, data, ctype).payload() for name, data, ctype in files]
        return kept + added

    # -- commands -----------------------------------------------------------------------------

    def store_command(self, command: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        """A command as Discord stores it: with ids, keeping the id of a same-named command."""
        old = next(
            (
                c
                for c in self.commands.get(guild_id, [])
                if c["name"] == command["name"] and c.get("type", 1) == command.get("type", 1)
            ),
            None,
        )
        stored = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": old["id"] if old else str(self.snowflakes.next()),
            "application_id": str(self.application_id),
            "version": str(self.snowflakes.next()),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    def find_command(self, name: str, guild_id: int | None, type: int = 1) -> dict[str, Any] | None:
        """A synced command by name: the guild's own first, then the global ones."""
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == type:
                    return command
        return None

    # -- create, edit, delete -----------------------------------------------------------------

    async def create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        author: FakeUser | None = None,
        interaction: InteractionRecord | None = None,
        files: list[UploadedFile] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> MessageRecord:
        """Store a message built from a create body (bot-authored unless `author` is given)."""
        author = author or self.bot_user
        guild = self.guild_of_channel(channel_id)
        payload: dict[str, Any] = {
            "id": str(self.snowflakes.next()),
            "channel_id": str(channel_id),
            "author": author.payload(),
            "content": body.get("content") or "",
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": mentions_everyone(body),
            "mentions": [],
            "mention_roles": [],
            "attachments": self._uploaded(body, files or []),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }
        if guild is not None:
            payload["guild_id"] = str(guild.id)
        if body.get("message_reference"):
            payload["message_reference"] = body["message_reference"]
            payload["type"] = 19
            target = self.messages.get(int(body["message_reference"].get("message_id") or 0))
            if target is not None:
                payload["referenced_message"] = copy.deepcopy(target.payload)
        if interaction is not None:
            self._mark_interaction(payload, interaction)
        payload.update(extra or {})
        msg = MessageRecord(payload, interaction_id=interaction and interaction.id)
        msg.bodies.append(body)
        self.messages[msg.id] = msg
        self.notifier.notify()
        if author is self.bot_user:
            await self._echo("MESSAGE_CREATE", msg)
        return msg

    def _mark_interaction(self, payload: dict[str, Any], rec: InteractionRecord) -> None:
        user = self.user(rec.user_id).payload()
        payload["webhook_id"] = str(self.application_id)
        payload["application_id"] = str(self.application_id)
        payload["type"] = 20 if rec.type == 2 else 0
        payload["interaction_metadata"] = {
            "id": str(rec.id),
            "type": rec.type,
            "user": user,
            "authorizing_integration_owners": {},
        }

    async def edit_message(
        self,
        msg: MessageRecord,
        body: dict[str, Any],
        *,
        files: list[UploadedFile] | None = None,
        finish_loading: bool = False,
    ) -> MessageRecord:
        """Apply an edit body; `finish_loading` turns a deferred placeholder into the reply."""
        for key in _EDITABLE:
            if key in body:
                empty: Any = "" if key == "content" else []
                msg.payload[key] = empty if body[key] is None else body[key]
        if "content" in body:
            msg.payload["mention_everyone"] = mentions_everyone(body)
        if "attachments" in body or files:
            msg.payload["attachments"] = self._uploaded(body, files or [])
        msg.edits.append(time.monotonic())
        if finish_loading and msg.loading:
            msg.payload["flags"] = msg.flags & EPHEMERAL
        else:
            msg.payload["edited_timestamp"] = iso()
            msg.edited_at = time.monotonic()
        msg.bodies.append(body)
        self.notifier.notify()
        await self._echo("MESSAGE_UPDATE", msg)
        return msg

    async def delete_message(self, msg: MessageRecord) -> None:
        msg.deleted_at = time.monotonic()
        self.notifier.notify()
        await self._echo("MESSAGE_DELETE", msg)

    async def _echo(self, event: str, msg: MessageRecord) -> None:
        """Send the gateway event Discord would send about the bot's own message."""
        guild = msg.payload.get("guild_id")
        session = self.gateway.session_for(int(guild) if guild else None)
        if not self.echo_messages or session is None or msg.ephemeral:
            return
        needed = INTENT_GUILD_MESSAGES if "guild_id" in msg.payload else INTENT_DIRECT_MESSAGES
        if not session.intents & needed:
            return
        if event == "MESSAGE_DELETE":
            data = {k: msg.payload[k] for k in ("id", "channel_id", "guild_id") if k in msg.payload}
        else:
            data = copy.deepcopy(msg.payload)
        await self.gateway.dispatch(event, data, session=session)
