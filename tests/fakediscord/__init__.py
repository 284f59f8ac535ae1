"""A fake Discord (REST + gateway on 127.0.0.1) for end-to-end tests of a real discord.py bot.

See server.py for usage.
"""

from .connecting import connected
from .gateway import GatewaySession, shard_of
from .models import (
    CREATE_PUBLIC_THREADS,
    MEMBER_PERMISSIONS,
    PRIVILEGED_INTENTS,
    SEND_MESSAGES_IN_THREADS,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
)
from .pointing import NonLoopbackRequest, loopback_only_trace, point_discord_at
from .records import ErrorRule, InteractionRecord, MessageRecord, OutboundRequest, RateLimitRule
from .server import BOT_PERMISSIONS, FakeDiscord

__all__ = [
    "BOT_PERMISSIONS",
    "CREATE_PUBLIC_THREADS",
    "MEMBER_PERMISSIONS",
    "PRIVILEGED_INTENTS",
    "SEND_MESSAGES_IN_THREADS",
    "ErrorRule",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeRole",
    "FakeUser",
    "GatewaySession",
    "InteractionRecord",
    "MessageRecord",
    "NonLoopbackRequest",
    "OutboundRequest",
    "RateLimitRule",
    "connected",
    "loopback_only_trace",
    "point_discord_at",
    "shard_of",
]
