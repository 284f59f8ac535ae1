"""Text from outside made safe to show on Discord, and links that point at a quote.

Article text, titles, feed fields and what members type are untrusted: mentions and invites
are broken with zero-width joiners, markdown is escaped and control characters dropped
before any of it reaches an embed or a message (besides the `AllowedMentions.none()` every
send carries); a link is shown only when it is plain http(s), never an invite, and a
citation's link carries a text fragment that highlights the quote.
"""

from __future__ import annotations

import re
from urllib.parse import quote as percent_encode

ZWJ = "\u200d"
ELLIPSIS = "…"
FRAGMENT_WORDS = 4  # words on each side of a textStart,textEnd fragment
FULL_FRAGMENT_WORDS = 10  # quotes up to this many words are matched whole
URL_MAX = 1024  # longer article links are left out rather than crowd out the quotes

_MENTION = re.compile(r"@(everyone|here)|<(?=[@#/])")
_INVITE = re.compile(r"(discord(?:app)?\.com/invite|discord\.gg|discord\.me)/", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\*_~|`\[\]()#])")
_LIST_START = re.compile(r"^(?:[-+>]|\d+\.)(?= )")  # would start a list or a quote
_UNESCAPE = re.compile(r"\\([\\*_~|`\[\]()#.+>-])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1, but tab and newline


# -- making text inert ---------------------------------------------------------------------


def printable(text: str) -> str:
    """`text` without control characters (NUL, escape, ...), tabs and newlines aside."""
    return _CONTROL.sub("", text)


def neutralise(text: str) -> str:
    """Break @everyone, @here, <@user>, <@&role>, <#channel>, </command> and invite links with
    a zero-width joiner, so they render as plain text and can never ping or invite; drop
    control characters, which no one should be sent."""
    text = _MENTION.sub(lambda m: f"@{ZWJ}{m[1]}" if m[1] else f"<{ZWJ}", printable(text))
    return _INVITE.sub(lambda m: m[0].replace(".", f"{ZWJ}.", 1), text)


def sanitize(text: str) -> str:
    """Untrusted text as inert Discord markdown: whitespace collapsed, markdown escaped,
    mentions and invites broken."""
    escaped = _MARKDOWN.sub(r"\\\1", neutralise(" ".join(text.split())))
    return _LIST_START.sub(lambda m: m[0][:-1] + "\\" + m[0][-1], escaped)


def unsanitize(text: str) -> str:
    """The text `sanitize` was given (up to whitespace), for reading our own embeds back."""
    return _UNESCAPE.sub(r"\1", text.replace(ZWJ, ""))


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


# -- links with text fragments -------------------------------------------------------------


def _encode(term: str) -> str:
    """Percent-encode one text directive term: everything but unreserved characters, and '-'
    (which `quote` leaves alone but the Text Fragments syntax reserves)."""
    return percent_encode(term, safe="").replace("-", "%2D")


def text_directive(quote: str) -> str:
    """The `text=` value that makes a browser scroll to and highlight `quote`: the whole quote
    when short, else `textStart,textEnd` with a few words of each end."""
    words = quote.split()
    if len(words) <= FULL_FRAGMENT_WORDS:
        return _encode(" ".join(words))
    start, end = words[:FRAGMENT_WORDS], words[-FRAGMENT_WORDS:]
    return f"{_encode(' '.join(start))},{_encode(' '.join(end))}"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL safe inside a markdown link (no spaces, parentheses or angle brackets),
    or None for anything else (a Discord invite included: never a link under the bot's name)."""
    if not url or not url.lower().startswith(("http://", "https://")) or _INVITE.search(url):
        return None
    return percent_encode(url.strip(), safe=":/?#[]@!$&'*+,;=%~.-_")


def fragment_url(url: str | None, quote: str) -> str | None:
    """`url` with a text fragment (`#:~:text=...`) pointing at `quote`; None without a URL."""
    base = safe_url(url)
    if base is None:
        return None
    if len(base) > URL_MAX:
        return None
    if not quote.split():
        return base
    separator = ":~:" if "#" in base else "#:~:"
    linked = f"{base}{separator}text={text_directive(quote)}"
    return linked if len(linked) <= URL_MAX else base


def link(label: str, url: str | None) -> str:
    """A markdown link (label already sanitized), or the bare label when there is no URL."""
    return f"[{label}]({url})" if url else label
