"""Events a test injects as if a person did something: slash commands, autocomplete, button
clicks, message context-menu commands and plain messages.

Option values are typed from the command the bot synced (so a test writes `{"limit": 3}` and
gets an INTEGER option), falling back to the Python type when nothing was synced. Users,
channels, roles and attachments given as option values are put into `resolved` for you.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from .messages import MessagesMixin
from .models import (
    DM_CHANNEL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    MEMBER_PERMISSIONS,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
)
from .records import InteractionRecord, MessageRecord

COMMAND, COMPONENT, AUTOCOMPLETE = 2, 3, 4
SUB_COMMAND, SUB_GROUP, STRING, INTEGER, BOOLEAN = 1, 2, 3, 4, 5
USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 6, 7, 8, 9, 10, 11
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def _infer_type(value: Any) -> int:
    if isinstance(value, dict):
        return SUB_GROUP if any(isinstance(v, dict) for v in value.values()) else SUB_COMMAND
    for cls, otype in (
        (bool, BOOLEAN),
        (int, INTEGER),
        (float, NUMBER),
        (FakeAttachment, ATTACHMENT),
        (FakeUser, USER),
        (FakeChannel, CHANNEL),
        (FakeRole, ROLE),
    ):
        if isinstance(value, cls):
            return otype
    return STRING


def _ident(value: Any) -> int:
    return int(getattr(value, "id", value))


def _mark_focused(options: list[dict[str, Any]], focused: str) -> bool:
    for option in options:
        if option["type"] in (SUB_COMMAND, SUB_GROUP):
            if _mark_focused(option.get("options", []), focused):
                return True
        elif option["name"] == focused:
            option["focused"], option["value"] = True, str(option["value"])
            return True
    return False


class InjectMixin(MessagesMixin):
    """Injection helpers of `FakeDiscord`; the attributes below are set in its constructor."""

    interactions: dict[int, InteractionRecord]

    # -- options ------------------------------------------------------------------------------

    def _resolve(
        self, otype: int, value: Any, resolved: dict[str, Any], guild: FakeGuild | None
    ) -> str:
        ident = _ident(value)
        if otype == ATTACHMENT:
            attachment = value if isinstance(value, FakeAttachment) else self.attachments[ident]
            resolved.setdefault("attachments", {})[str(ident)] = attachment.payload()
        elif otype == ROLE or (otype == MENTIONABLE and guild and guild.role(ident)):
            role = guild.role(ident) if guild else None
            if role is None:
                raise ValueError(f"fake discord: no role {ident} in the guild")
            resolved.setdefault("roles", {})[str(ident)] = role.payload()
        elif otype == CHANNEL:
            channel = self.channel_payload(ident)
            if channel is None:
                raise ValueError(f"fake discord: no channel {ident}")
            channel["permissions"] = str(MEMBER_PERMISSIONS)
            resolved.setdefault("channels", {})[str(ident)] = channel
        else:  # USER, or a MENTIONABLE that is not a role
            resolved.setdefault("users", {})[str(ident)] = self.user(ident).payload()
            if guild is not None:
                member = guild.member_payload(self.user(ident), permissions=MEMBER_PERMISSIONS)
                del member["user"]
                resolved.setdefault("members", {})[str(ident)] = member
        return str(ident)

    def _options(
        self,
        schema: list[dict[str, Any]] | None,
        given: dict[str, Any],
        resolved: dict[str, Any],
        guild: FakeGuild | None,
        *,
        partial: bool = False,
    ) -> list[dict[str, Any]]:
        specs = {o["name"]: o for o in schema or []}
        if schema is not None and not partial:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
            if missing:
                raise ValueError(f"fake discord: required options missing: {missing}")
        built = []
        for name, value in given.items():
            spec = specs.get(name)
            if schema is not None and spec is None:
                raise ValueError(f"fake discord: no option {name!r}; synced: {sorted(specs)}")
            otype = spec["type"] if spec else _infer_type(value)
            option: dict[str, Any] = {"type": otype, "name": name}
            if otype in (SUB_COMMAND, SUB_GROUP):
                sub_schema = spec.get("options", []) if spec else None
                option["options"] = self._options(
                    sub_schema, value, resolved, guild, partial=partial
                )
            elif otype in (USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT):
                option["value"] = self._resolve(otype, value, resolved, guild)
            else:
                caster = {INTEGER: int, NUMBER: float, BOOLEAN: bool}.get(otype, str)
                option["value"] = caster(value)
            built.append(option)
        return built

    def _command_data(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None,
        guild_id: int | None,
        resolved: dict[str, Any] | None,
        *,
        partial: bool = False,
    ) -> dict[str, Any]:
        name, *path = name.split()
        for sub in reversed(path):  # "quote search" == {"search": options}
            options = {sub: options or {}}
        command = self.find_command(name, guild_id)
        built_resolved: dict[str, Any] = {}
        if isinstance(options, list):
            built = options
        else:
            schema = None if command is None else command.get("options", [])
            guild = self.guilds.get(guild_id) if guild_id is not None else None
            built = self._options(schema, options or {}, built_resolved, guild, partial=partial)
        for key, items in (resolved or {}).items():
            built_resolved.setdefault(key, {}).update(items)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.snowflakes.next()),
            "name": name,
            "type": 1,
            "options": built,
        }
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if built_resolved:
            data["resolved"] = built_resolved
        return data

    # -- the interaction envelope -------------------------------------------------------------

    async def _inject(
        self,
        itype: int,
        data: dict[str, Any],
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        *,
        permissions: int,
        locale: str = "en-US",
        target: MessageRecord | None = None,
        message_patch: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        user = self.user(user_id)
        if guild_id is None:
            channel_id = channel_id or self.dm_channel(user_id)
            self.dm_channels.setdefault(user_id, channel_id)
            channel = {"id": str(channel_id), "type": DM_CHANNEL, "recipients": [user.payload()]}
        else:
            guild = self.guilds[guild_id]
            channel_id = channel_id or guild.channels[0].id
            found = guild.channel(channel_id)
            if found is None:
                raise ValueError(f"fake discord: no channel {channel_id} in guild {guild_id}")
            channel = found.payload(guild_id, self.bot_user.id)
        payload: dict[str, Any] = {
            "id": str(self.snowflakes.next()),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": secrets.token_urlsafe(32),
            "version": 1,
            "locale": locale,
            "app_permissions": str(self.bot_permissions_in(channel_id)),
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel_id),
            "channel": channel,
            "context": 1 if guild_id is None else 0,
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {},
        }
        if guild_id is None:
            payload["user"] = user.payload()
        else:
            guild = self.guilds[guild_id]
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": guild.locale, "features": []}
            payload["guild_locale"] = guild.locale
            payload["member"] = guild.member_payload(user, permissions=permissions)
        if target is not None:
            payload["message"] = {**copy.deepcopy(target.payload), **(message_patch or {})}
        rec = InteractionRecord(
            int(payload["id"]), payload["token"], itype, payload, self.notifier,
            guild_id=guild_id, channel_id=channel_id, user_id=user_id, target=target,
        )  # fmt: skip
        self.interactions[rec.id] = rec
        rec.injected_at = time.monotonic()
        await self.gateway.dispatch_about(guild_id, "INTERACTION_CREATE", payload)
        return rec

    # -- public helpers ---------------------------------------------------------------------

    async def slash(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        permissions: int = MEMBER_PERMISSIONS,
        resolved: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A CHAT_INPUT command. `name` may be "cmd sub"; nested dicts are subcommands."""
        data = self._command_data(name, options, guild_id, resolved)
        return await self._inject(
            COMMAND, data, guild_id, channel_id, user_id, permissions=permissions, locale=locale
        )

    async def autocomplete(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        permissions: int = MEMBER_PERMISSIONS,
    ) -> InteractionRecord:
        """The user is typing option `focused` (its partial text is its value in `options`)."""
        data = self._command_data(name, options, guild_id, None, partial=True)
        if not _mark_focused(data["options"], focused):
            raise ValueError(f"fake discord: focused option {focused!r} is not in options")
        return await self._inject(
            AUTOCOMPLETE, data, guild_id, channel_id, user_id, permissions=permissions
        )

    async def message_command(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        name: str,
        message_id: int,
        *,
        permissions: int = MEMBER_PERMISSIONS,
    ) -> InteractionRecord:
        """A message context-menu command (type 3) run on a message the fake knows."""
        target = self.messages[message_id]
        command = self.find_command(name, guild_id, type=3)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.snowflakes.next()),
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): copy.deepcopy(target.payload)}},
        }
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._inject(
            COMMAND, data, guild_id, channel_id, user_id, permissions=permissions
        )

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int,
        component_type: int = 2,
        values: list[str] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
        message_patch: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        """Press a button (or, with `values` and component_type 3, use a select) on a message.
        `message_patch` overrides fields of the message as the event carries it (a malformed
        `{"thread": None}`, say); the stored message is left alone."""
        target = self.messages[message_id]
        if custom_id not in target.custom_ids:
            raise ValueError(f"fake discord: no component {custom_id!r}; has {target.custom_ids}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        guild = target.payload.get("guild_id")
        return await self._inject(
            COMPONENT,
            data,
            int(guild) if guild else None,
            target.channel_id,
            user_id,
            permissions=permissions,
            target=target,
            message_patch=message_patch,
        )

    async def message(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        content: str,
        mentions: list[int] | None = None,
        *,
        attachments: list[FakeAttachment] | None = None,
        reply_to: MessageRecord | None = None,
        ping: bool = True,
    ) -> MessageRecord:
        """A user posts a message (a DM when guild_id is None), in a channel or a thread;
        `reply_to` makes it a reply, which mentions that message's author unless `ping` is
        off. `dispatched` on the result says whether the bot's intents let Discord deliver
        it; without MESSAGE_CONTENT, a guild message that does not mention the bot arrives
        with its content blanked, as live."""
        if guild_id is None:
            channel_id = channel_id or self.dm_channel(user_id)
            self.dm_channels.setdefault(user_id, channel_id)
            guild = None
        else:
            guild = self.guilds[guild_id]
            channel_id = channel_id or guild.channels[0].id
            if guild.channel(channel_id) is None:
                raise ValueError(f"fake discord: no channel {channel_id} in guild {guild_id}")
        mentions = list(mentions or [])
        if reply_to is not None and ping and reply_to.author_id not in mentions:
            mentions.append(reply_to.author_id)
        mentioned = [self.user(u) for u in mentions]
        mention_payloads = [u.payload() for u in mentioned]
        if guild is not None:
            for payload, user in zip(mention_payloads, mentioned, strict=True):
                payload["member"] = {
                    k: v for k, v in guild.member_payload(user).items() if k != "user"
                }
        body: dict[str, Any] = {"content": content,
                                "attachments": [a.payload() for a in attachments or []]}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id),
                                         "channel_id": str(reply_to.channel_id),
                                         **({"guild_id": str(guild.id)} if guild else {})}
        extra: dict[str, Any] = {"mentions": mention_payloads}
        if guild is not None:
            member = guild.member_payload(self.user(user_id))
            extra["member"] = {k: v for k, v in member.items() if k != "user"}
        msg = await self.create_message(channel_id, body, author=self.user(user_id), extra=extra)
        await self._deliver(msg, bot_mentioned=self.bot_user.id in mentions)
        return msg

    async def _deliver(self, msg: MessageRecord, *, bot_mentioned: bool) -> None:
        in_guild = "guild_id" in msg.payload
        session = self.gateway.session_for(int(msg.payload["guild_id"]) if in_guild else None)
        needed = INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES
        if session is None or not session.intents & needed:
            return
        data = copy.deepcopy(msg.payload)
        if in_guild and not bot_mentioned and not session.intents & INTENT_MESSAGE_CONTENT:
            data.update(content="", embeds=[], attachments=[], components=[])
        await self.gateway.dispatch("MESSAGE_CREATE", data, session=session)
        msg.dispatched = True
