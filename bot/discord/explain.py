"""Domain errors and refused checks, translated into sentences a member can act on."""

from __future__ import annotations

import math

from discord import app_commands

from bot.discord import render
from bot.discord.actions import NotAllowedError
from bot.discord.limits import QUESTION_MAX, BadQuestion, OnCooldown, QuotaExceeded
from bot.discord.work import Stopping
from index import errors


def explain(exc: BaseException) -> str | None:
    """What to tell the member about a domain error or a refused check; None for an
    unexpected error (which the global handler logs)."""
    if isinstance(exc, OnCooldown):
        return f"Please wait {math.ceil(exc.retry_after)} s before asking again."
    if isinstance(exc, QuotaExceeded):
        minutes = math.ceil(exc.retry_after / 60)
        return (f"This server has added {exc.quota} articles in the last hour, its limit; "
                f"try again in {minutes} min.")
    if isinstance(exc, BadQuestion):
        return render.question_too_long(QUESTION_MAX) if exc.too_long else render.EMPTY_QUESTION
    if isinstance(exc, app_commands.MissingPermissions):
        return render.MANAGE_SERVER
    if isinstance(exc, app_commands.NoPrivateMessage):
        return render.DM_ONLY
    if isinstance(exc, Stopping):
        return render.SHUTTING_DOWN
    if isinstance(exc, errors.IndexMismatchError):
        return ("This server's index was built with another embedding model; someone with "
                "Manage Server should run `/reindex`.")
    prefixes: list[tuple[type[Exception], str]] = [
        (errors.FeedError, "Could not follow that feed."),
        (errors.LimitReachedError, "Limit reached."),
        (errors.FetchError, "Could not fetch that page."),
        (errors.ExtractionError, "That does not look like an article."),
        (errors.TooLargeError, "Too large."),
        (errors.UnsupportedContentError, "Not something citebot can read."),
        (errors.ArticleError, "Could not add that article."),
        (errors.DataRefusedError, "The database refused that."),
        (errors.StorageError, "citebot's storage is not working right now."),
        (NotAllowedError, "Not allowed."),
        (errors.CitebotError, ""),
    ]
    for cls, prefix in prefixes:
        if isinstance(exc, cls):
            # the message may echo what the member typed: inert, like article text
            return render.clip(f"{prefix} {render.sanitize(str(exc))}".strip(),
                               render.MESSAGE_MAX)
    return None
