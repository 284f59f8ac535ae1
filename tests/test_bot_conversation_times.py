""""When was that?" in a Discord thread, end to end against the fake: the sentence that dates
the event the last quote told of, or the quote again with the article's publication date
said under it (citebot's words, never inside a quote)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from index.encode.embed import Embedder
from tests.test_bot_conversations import ANSWER, ask_in_channel, first_quote, footer, shown
from tests.test_bot_support import BOB, GUILD_A, assert_no_mentions, bot_env, reply_to
from tests.test_cli_chat_followups import BAKERY, EXAMPLES
from tests.test_event_time import NOTE


async def test_when_was_that_in_a_thread(tmp_path: Any, real_embedder: Embedder) -> None:
    async with bot_env(tmp_path, embedder=real_embedder, discord_message_content=True) as env:
        collection = f"guild-{GUILD_A}"
        await asyncio.to_thread(env.core.add_file, collection,
                                Path(EXAMPLES / "harbor-flood-barrier.md"))
        await asyncio.to_thread(lambda: list(env.core.add_jsonl(collection,
                                                                [json.dumps(BAKERY)])))
        for question, follow_up, holds, note in (
                ("What did Ortiz say about the barrier?", "when was that?",
                 "voted 7-2 on Tuesday", None),
                ("Why will the bakery close?", "When did that happen?", "Vance", NOTE)):
            _, thread = await ask_in_channel(env, question)
            posted = await env.fake.message(GUILD_A, thread.id, BOB, follow_up)
            reply = await reply_to(env.fake, posted, ANSWER)
            assert holds in first_quote(reply), reply
            assert footer(reply).startswith("Read as: When")
            description = reply.embeds[0]["description"]
            assert (note is not None) == description.endswith(f"*{NOTE}*"), description
            assert len(shown(reply).quotes) == 1
        assert_no_mentions(env.fake)
