"""What the fake Discord knows about: users, guilds, channels, roles, attachments.

Each model turns itself into the JSON payload Discord would send (`payload()`), in the shapes
discord.py 2.7 parses. Nothing here does I/O.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5

#: What an ordinary member may do in an ordinary text channel.
MEMBER_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)

# Gateway intents (https://discord.com/developers/docs/topics/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

TEXT_CHANNEL = 0
DM_CHANNEL = 1
CATEGORY_CHANNEL = 4
NEWS_CHANNEL = 5
PUBLIC_THREAD = 11
THREAD_TYPES = (10, 11, 12)
ALL_PERMISSIONS = (1 << 53) - 1


def iso(ts: float | None = None) -> str:
    """An ISO 8601 timestamp as Discord writes them."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


class Snowflakes:
    """Unique, increasing Discord ids whose embedded time is now (discord.py reads it)."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (next(self._counter) & 0xFFF)
        self._last = max(self._last + 1, candidate)
        return self._last


@dataclass
class FakeUser:
    id: int
    name: str = ""
    bot: bool = False

    def __post_init__(self) -> None:
        self.name = self.name or f"user{self.id}"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A channel, or a thread (type 10-12: `parent_id` is its channel, `owner_id` who started
    it). `bot_permissions`: what the bot may do here (a member overwrite on the channel;
    threads follow their channel), when not what the fake grants everywhere."""

    id: int
    name: str
    type: int = TEXT_CHANNEL
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None
    archive_minutes: int = 60
    bot_permissions: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self, guild_id: int, bot_id: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": self.topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "flags": 0,
        }
        if self.bot_permissions is not None and bot_id is not None and not self.is_thread:
            allow, deny = self.bot_permissions, ALL_PERMISSIONS & ~self.bot_permissions
            data["permission_overwrites"] = [
                {"id": str(bot_id), "type": 1, "allow": str(allow), "deny": str(deny)}]
        if self.is_thread:
            data.update(owner_id=str(self.owner_id), message_count=0, member_count=1,
                        total_message_sent=0, thread_metadata={
                            "archived": False, "auto_archive_duration": self.archive_minutes,
                            "archive_timestamp": iso(), "locked": False, "create_timestamp": iso()})
        return data


@dataclass
class FakeGuild:
    """A guild the bot is in. An @everyone role (id == guild id) is always present; with no
    channels given, one text channel `general` with id `guild id + 1` is created."""

    id: int
    name: str = "Test Guild"
    channels: list[FakeChannel] = field(default_factory=list)
    threads: list[FakeChannel] = field(default_factory=list)
    roles: list[FakeRole] = field(default_factory=list)
    members: list[FakeUser] = field(default_factory=list)
    member_roles: dict[int, list[int]] = field(default_factory=dict)
    owner_id: int = 1
    locale: str = "en-US"

    def __post_init__(self) -> None:
        if not self.channels:
            self.channels = [FakeChannel(self.id + 1, "general")]
        if not any(r.id == self.id for r in self.roles):
            self.roles.insert(0, FakeRole(self.id, "@everyone", MEMBER_PERMISSIONS))

    def channel(self, channel_id: int) -> FakeChannel | None:
        """A channel or a thread of this guild."""
        return next((c for c in (*self.channels, *self.threads) if c.id == channel_id), None)

    def role(self, role_id: int) -> FakeRole | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def member_payload(self, user: FakeUser, *, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": user.payload(),
            "roles": [str(r) for r in self.member_roles.get(user.id, [])],
            "nick": None,
            "avatar": None,
            "joined_at": iso(0),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def rest_payload(self) -> dict[str, Any]:
        """The guild as `GET /guilds/{id}` returns it (no channels or members)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self, bot: FakeUser, *, with_members: bool) -> dict[str, Any]:
        """The guild as GUILD_CREATE carries it. Like Discord, it lists the other members only
        for a bot with the GUILD_MEMBERS intent; the bot itself is always there."""
        others = [self.member_payload(u) for u in self.members] if with_members else []
        return {
            **self.rest_payload(),
            "unavailable": False,
            "large": False,
            "joined_at": iso(),
            "member_count": 1 + len(self.members),
            "members": [self.member_payload(bot), *others],
            "channels": [c.payload(self.id, bot.id) for c in self.channels],
            "threads": [t.payload(self.id) for t in self.threads],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class FakeAttachment:
    """A file the fake serves at `url` (an address on the fake itself)."""

    id: int
    filename: str
    data: bytes
    content_type: str
    url: str

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
