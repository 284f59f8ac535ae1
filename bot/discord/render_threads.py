"""What the bot says about follow-ups: an answer's footer (how the question was read, where
to ask the next one), the name of the thread opened on an answer, and the hint for a message
the bot cannot read."""

from __future__ import annotations

import re

from bot.discord.inert import ZWJ, clip, neutralise

THREAD_NAME_MAX = 100
READ_AS_CHARS = 200
CANNOT_READ = ("I can only read messages here that mention me: ask your follow-up as "
               "\u201c@{me} ...\u201d, or use /ask in this thread.")
_MASKED_LINK = re.compile(r"\](?=\()")  # [label](url)
# Small talk in a conversation thread, which is not a question to answer.
_CHATTER = re.compile(
    r"^\W*(?:thanks?(?: you)?|thx|ty|ok(?:ay)?|cool|great|nice|got it|perfect|lol|haha|"
    r"yes|no|yep|nope|sure|wow|interesting|good bot)\W*$", re.I)


def footer(read_as: str | None, *, thread: bool, in_thread: bool, reads_messages: bool,
           me: str) -> str | None:
    """The footer of an answer: "Read as: ..." when a follow-up was rewritten, and how to
    ask the next one (in the thread opened on it, or by replying to it)."""
    lines = [f"Read as: {clip(' '.join(read_as.split()), READ_AS_CHARS)}"] if read_as else []
    if thread:
        lines.append("Follow up in the thread on this answer" + (
            " \u2014 no need to mention me." if reads_messages
            else f": mention @{me} there, or use /ask."))
    elif not in_thread:
        lines.append("Reply to this answer to follow up" + (
            "." if reads_messages else f" (keep the @{me} mention of the reply on)."))
    return "\n".join(lines) or None


def thread_name(question: str) -> str:
    """A thread's name: the question, on one line, at most THREAD_NAME_MAX characters, inert
    like everything the bot sends (a client may show it as message text): mentions and
    invites broken, masked links broken, no control characters. It is not escaped as
    markdown: a thread's name is shown as typed, backslashes included."""
    name = _MASKED_LINK.sub(f"]{ZWJ}(", neutralise(" ".join(question.split())))
    return clip(name, THREAD_NAME_MAX) or "Follow-up questions"


def is_chatter(text: str) -> bool:
    """Whether a message in a conversation thread is small talk ("thanks!"), not a question."""
    return bool(_CHATTER.match(text))
