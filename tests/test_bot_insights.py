"""`/insights` end to end, the real bot against the fake Discord: off until an admin enables
it; then an admin sees their server's unanswered and 👎'd questions, grouped and counted,
and nothing of another server; members without Manage Server are refused; disabling deletes."""

from __future__ import annotations

from pathlib import Path

from bot.discord import render, render_insights
from bot.discord.views import VOTE_DOWN
from tests.test_bot_support import (
    ALICE,
    BOB,
    BRIDGE_QUESTION,
    CAROL,
    GUILD_A,
    GUILD_B,
    MANAGER,
    STEP,
    Env,
    add_bridge,
    assert_no_mentions,
    bot_env,
    description,
)

CRICKET = "Who won the cricket final?"


async def unanswered(env: Env, question: str, guild: int = GUILD_A) -> None:
    rec = await env.slash("ask", {"question": question}, guild=guild, user=CAROL)
    assert render.NOT_FOUND in description(await rec.wait_response(STEP))


async def insights(env: Env, action: str, options: dict[str, object] | None = None, *,
                   guild: int = GUILD_A, permissions: int = MANAGER, user: int = ALICE
                   ) -> tuple[str, bool]:
    """What the bot answered to `/insights ACTION`: its text (content and embeds), and
    whether only the member saw it."""
    rec = await env.slash(f"insights {action}", options, guild=guild, user=user,
                          permissions=permissions)
    reply = await rec.wait_response(STEP)
    footers = " ".join(e.get("footer", {}).get("text", "") for e in reply.embeds)
    return f"{reply.content}\n{description(reply)}\n{footers}".strip(), reply.ephemeral


async def test_admins_see_their_servers_grouped_unanswered_questions_only(
        tmp_path: Path) -> None:
    async with bot_env(tmp_path) as env:
        await add_bridge(env)
        await add_bridge(env, GUILD_B)
        command = next(c for c in env.fake.commands[None] if c["name"] == "insights")
        assert str(command["default_member_permissions"]) == "32"  # Manage Server
        assert {o["name"] for o in command["options"]} == {"show", "enable", "disable"}
        text, private = await insights(env, "show")
        assert private and text == render_insights.OFF
        await unanswered(env, CRICKET)  # off: not kept
        assert (await insights(env, "enable", permissions=0, user=BOB))[0] == \
            render.MANAGE_SERVER
        text, private = await insights(env, "enable", {"retention_days": 14})
        assert private and "14 days" in text and "never who asked" in text
        text, _ = await insights(env, "show")
        assert text == render_insights.EMPTY.format(days=7)
        for question in (CRICKET, "who won the cricket final", "When does the pool reopen?"):
            await unanswered(env, question)
        rec = await env.slash("ask", BRIDGE_QUESTION, user=CAROL)
        answer = await rec.wait_response(STEP)
        for user in (ALICE, BOB):  # two members vote it down: counted once
            await (await env.fake.click(answer.id, VOTE_DOWN, user_id=user)).wait_response(STEP)
        await insights(env, "enable", guild=GUILD_B)
        await unanswered(env, "Where will the new stadium be built?", guild=GUILD_B)

        text, private = await insights(env, "show", {"days": 3})
        assert private, text
        lines = text.splitlines()
        assert "**2\u00d7**" in lines[0] and "cricket final" in lines[0], text
        assert lines[1].startswith("2 not found")
        assert "When does the pool reopen?" in text and "Mayor Reyes" in text
        assert "1 voted down" in text and "stadium" not in text
        assert "4 questions" in text and "last 3 days" in text
        other, _ = await insights(env, "show", guild=GUILD_B)
        assert "stadium" in other and "cricket" not in other and "pool" not in other
        assert (await insights(env, "show", permissions=0, user=BOB))[0] == render.MANAGE_SERVER

        text, private = await insights(env, "disable")
        assert private and "deleted 4" in text
        assert (await insights(env, "show"))[0] == render_insights.OFF
        assert "stadium" in (await insights(env, "show", guild=GUILD_B))[0]
        assert_no_mentions(env.fake)
