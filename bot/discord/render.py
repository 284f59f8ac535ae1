"""Everything the bot shows on Discord: embeds, messages, text fragments, and the splitting
that keeps them under Discord's limits.

Article text is untrusted: every piece of it is made inert (`bot/discord/inert.py`: markdown
escaped, mention syntax broken with zero-width joiners) before it reaches an embed or a
message, in addition to the `AllowedMentions.none()` every send carries. The helpers for that
are importable from here as well (`render.clip`, `render.sanitize`, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord.actions import ArticlePage, LinkResult
from bot.discord.inert import ZWJ as ZWJ
from bot.discord.inert import clip as clip
from bot.discord.inert import fragment_url as fragment_url
from bot.discord.inert import link as link
from bot.discord.inert import neutralise as neutralise
from bot.discord.inert import printable as printable
from bot.discord.inert import safe_url as safe_url
from bot.discord.inert import sanitize as sanitize
from bot.discord.inert import unsanitize as unsanitize
from index.models import Article
from retrieval.models import Answer, Citation, Claim, Quote, Written

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MESSAGE_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000  # every embed of one message, together
EMBEDS_PER_MESSAGE = 10
CHOICE_MAX = 100

COLOR = discord.Colour(0x3B82F6)
NOT_FOUND_COLOR = discord.Colour(0x9CA3AF)
SNIPPET_CHARS = 300  # closest passages shown under "not found"
NOT_FOUND = "**Not found.**"
WRITING = "*\u270d\ufe0f Writing\u2026 quotes appear as they are verified.*"

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


# -- citations and quotes ------------------------------------------------------------------


def citation_line(number: int, c: Citation, url: str | None) -> str:
    """**[1]** [Title](link) · Source · 2024-03-01 · ¶ 4"""
    title = sanitize(clip(c.title, 200)) or "Untitled"
    parts = [link(title, url)]
    parts += [sanitize(clip(x, 100)) for x in (c.source, _date(c.published)) if x]
    parts.append(f"¶ {c.paragraph}")
    return f"**[{number}]** " + " · ".join(parts)


def _date(published: str | None) -> str | None:
    """The day of an ISO timestamp; anything else as it is."""
    if published and _ISO_DAY.match(published):
        return published[:10]
    return published


def _quote_lines(text: str, speaker: str | None) -> str:
    lines = f"> {sanitize(text)}"
    if speaker:
        lines += f"\n> \u2014 {sanitize(clip(speaker, 100))}"
    return lines


def quote_block(number: int, q: Quote, limit: int = DESCRIPTION_MAX) -> str:
    """One quote as a block quote with its numbered citation underneath. Only a quote that
    cannot fit in `limit` on its own is shortened (with an ellipsis); its link still
    highlights the whole quote in the article."""
    cite = citation_line(number, q.citation, fragment_url(q.citation.url, q.text))
    text = q.text
    block = f"{_quote_lines(text, q.speaker)}\n{cite}"
    budget = len(text)
    while len(block) > limit and budget > 1:
        budget = max(1, budget - (len(block) - limit))
        block = f"{_quote_lines(clip(text, budget), q.speaker)}\n{cite}"
    return block


def passage_block(number: int, title: str, url: str | None, paragraph: int, text: str,
                  source: str | None, published: str | None) -> str:
    """A closest passage under "not found": a shortened snippet and its citation."""
    citation = Citation("", title, source, url, published, paragraph)
    snippet = clip(" ".join(text.split()), SNIPPET_CHARS)
    return f"> {sanitize(snippet)}\n{citation_line(number, citation, fragment_url(url, text))}"


# -- answers -------------------------------------------------------------------------------

Page = list[discord.Embed]  # the embeds of one message


class AnswerPages(list[Page]):
    """An answer's pages, and the answer (for a plain-text reply if Discord refuses them)."""

    def __init__(self, pages: list[Page], answer: Answer) -> None:
        super().__init__(pages)
        self.answer = answer


def answer_pages(answer: Answer, footer: str | None = None) -> AnswerPages:
    """The answer as messages of embeds: normally one message with one embed; longer answers
    are split between quotes (never inside one) to stay under every Discord limit. The last
    embed carries ``footer`` (plain text: how the question was read, how to follow up)."""
    title = clip(sanitize(answer.question), TITLE_MAX) or "Question"
    footer = clip(neutralise(footer), FOOTER_MAX) if footer else ""
    if answer.found:
        blocks, color = [quote_block(i, q) for i, q in enumerate(answer.quotes, 1)], COLOR
        if answer.written is not None:
            blocks.insert(0, written_block(answer.written))
        if answer.note:  # citebot's own words, not a quote: after the quotes, in italics
            blocks.append(f"*{sanitize(answer.note)}*")
    else:
        blocks, color = not_found_blocks(answer), NOT_FOUND_COLOR
    pages = pack(title, blocks, color, reserve=len(footer))
    if footer:
        pages[-1][-1].set_footer(text=footer)
    return AnswerPages(pages, answer)


def written_block(written: Written) -> str:
    """The model's verified statements as one paragraph with bold quote numbers, what was
    left out, and while it is still being written, a line saying so. The prose is untrusted
    text like an article's, made inert the same way."""
    prose = " ".join(Claim(sanitize(c.text), c.refs).marked("**[{}]**")
                     for c in written.claims)
    lines = [clip(prose, DESCRIPTION_MAX // 2)]
    if written.notice:
        lines.append(f"*{written.notice}*")
    if not written.complete:
        lines.append(WRITING)
    return "\n".join(lines)


def not_found_blocks(answer: Answer) -> list[str]:
    if not answer.passages:
        return [f"{NOT_FOUND} No article in this server matches this question. "
                "Add articles with `/add url`, `/add text` or `/add file`."]
    head = (f"{NOT_FOUND} The articles in this server do not answer this question. "
            "The closest passages:")
    blocks = [head]
    for i, r in enumerate(answer.passages[:3], 1):
        a = r.passage.article
        blocks.append(passage_block(i, a.title, a.url, r.passage.number, r.passage.text,
                                    a.source, a.published))
    return blocks


def pack(title: str, blocks: list[str], color: discord.Colour, reserve: int = 0) -> list[Page]:
    """Blocks into embeds (description <= 4096), embeds into messages (<= 10 embeds and
    <= 6000 characters each, less ``reserve`` for a footer). The first embed carries the
    title; no block is ever cut."""
    descriptions: list[str] = []
    for block in blocks:
        if descriptions and len(descriptions[-1]) + 2 + len(block) <= DESCRIPTION_MAX:
            descriptions[-1] += "\n\n" + block
        else:
            descriptions.append(block)
    pages: list[Page] = [[]]
    used = 0
    for i, description in enumerate(descriptions):
        embed = discord.Embed(title=title if i == 0 else None, description=description,
                              colour=color)
        full = (used + len(embed) + reserve > EMBED_TOTAL_MAX
                or len(pages[-1]) == EMBEDS_PER_MESSAGE)
        if pages[-1] and full:
            pages.append([])
            used = 0
        pages[-1].append(embed)
        used += len(embed)
    return pages


# -- reading our own answer back (feedback after a restart) --------------------------------

_QUOTE_LINE = re.compile(r"^> (?P<text>.*)$")
_CITE_LINE = re.compile(r"^\*\*\[(?P<n>\d+)\]\*\* (?P<rest>.*)$")
_LINK = re.compile(r"^\[(?P<label>.*?)\]\((?P<url>[^)\s]+)\)")


@dataclass(frozen=True)
class ShownAnswer:
    """What an answer message showed: the question and its quotes."""

    question: str
    quotes: list[dict[str, Any]]


def read_answer(embeds: list[discord.Embed]) -> ShownAnswer:
    """The question and the quotes shown, parsed back from an answer message's embeds."""
    question = unsanitize(embeds[0].title or "") if embeds else ""
    quotes: list[dict[str, Any]] = []
    if not embeds or (embeds[0].description or "").startswith(NOT_FOUND):
        return ShownAnswer(question, quotes)
    pending: str | None = None  # the first "> " line after a citation is a quote's text
    for embed in embeds:
        for line in (embed.description or "").splitlines():
            if (m := _QUOTE_LINE.match(line)) and pending is None:
                pending = unsanitize(m["text"])
            elif (m := _CITE_LINE.match(line)) and pending is not None:
                quotes.append({"n": int(m["n"]), "text": pending, **_citation(m["rest"])})
                pending = None
    return ShownAnswer(question, quotes)


def _citation(rest: str) -> dict[str, Any]:
    url = None
    if m := _LINK.match(rest):
        url = m["url"]
        rest = m["label"] + rest[m.end():]
    return {"citation": unsanitize(rest), "url": url}


# -- other messages ------------------------------------------------------------------------


def added(article: Article, status: str) -> str:
    """The confirmation after /add."""
    verb = {"added": "Added", "updated": "Updated", "unchanged": "Already indexed"}[status]
    return f"{verb}: {_article_summary(article)}. Ask about it with `/ask`."


def _article_summary(a: Article) -> str:
    title = sanitize(clip(a.title, 200)) or "Untitled"
    url = safe_url(a.url)
    parts = [f"**{title}**" if url is None else f"**[{title}](<{url}>)**"]
    parts += [sanitize(clip(x, 100)) for x in (a.source, _date(a.published)) if x]
    count = a.paragraph_count
    parts.append(f"{count} paragraph{'s' if count != 1 else ''}")
    return " · ".join(parts)


def added_many(results: list[LinkResult]) -> str:
    """One line per link of an "Add article" message command."""
    lines = []
    for r in results:
        if r.article is not None:
            lines.append(f"\u2705 {_article_summary(r.article)}")
        else:
            shown = f"<{safe}>" if (safe := safe_url(r.url)) else sanitize(r.url)
            lines.append(f"\u274c {shown}: {sanitize(r.error or 'failed')}")
    return clip("\n".join(lines), MESSAGE_MAX)


def removed(article: Article) -> str:
    return f"Removed **{sanitize(clip(article.title, 200))}** from this server's articles."


def progress(done: int, total: int) -> str:
    percent = 100 * done // total if total else 100
    return f"Reindexing this server's articles\u2026 {done}/{total} ({percent}%)"


def reindexed(articles: int, vectors: int) -> str:
    return f"Reindexed {articles} article{'s' if articles != 1 else ''} ({vectors} passages)."


def question_too_long(limit: int) -> str:
    return f"That question is too long; ask it in at most {limit} characters."


def feedback_thanks(vote: int) -> str:
    return "Thanks \u2014 noted \U0001f44d." if vote > 0 else "Thanks \u2014 noted \U0001f44e."


def articles_embed(p: ArticlePage) -> discord.Embed:
    """/articles: newest first, one line each, page n/m in the footer."""
    embed = discord.Embed(title="Articles in this server", colour=COLOR)
    if not p.articles:
        embed.description = "No articles yet. Add one with `/add url`, `/add text` or `/add file`."
    lines: list[str] = []
    for a in p.articles:
        title = sanitize(clip(a.title, 120)) or "Untitled"
        url = safe_url(a.url)
        meta = [sanitize(clip(x, 60)) for x in (a.source, _date(a.published)) if x]
        line = " · ".join([link(title, url if url and len(url) <= 300 else None), *meta,
                           f"`{a.id}`"])
        if sum(len(x) + 1 for x in lines) + len(line) > DESCRIPTION_MAX:
            break
        lines.append(line)
    if lines:
        embed.description = "\n".join(lines)
    noun = "article" if p.total == 1 else "articles"
    embed.set_footer(text=f"Page {p.page}/{p.pages} \u00b7 {p.total} {noun}")
    return embed


_PAGE = re.compile(r"^Page (\d+)/(\d+)")


def page_of(embed: discord.Embed | None) -> int:
    """The page number an /articles embed shows (1 if unreadable)."""
    m = _PAGE.match((embed.footer.text or "") if embed else "")
    return int(m[1]) if m else 1


def choice_name(a: Article) -> str:
    """An autocomplete label: title and source, at most 100 characters."""
    name = " · ".join(x for x in (" ".join(a.title.split()), a.source) if x) or a.id
    return clip(name, CHOICE_MAX)


def help_embed() -> discord.Embed:
    embed = discord.Embed(title="citebot", colour=COLOR, description=(
        "I answer questions about the news articles added to this server, with **verbatim "
        "quotes** and numbered citations (title, source, date, paragraph). Each citation "
        "links to the article and highlights the quoted words. If the articles do not "
        "answer a question, I say so and show the closest passages."))
    for name, value in HELP:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text="Every server has its own articles; nothing is shared between servers.")
    return embed


HELP = (
    ("/ask question [article]", "Ask a question; `article` limits it to one article. You can "
     "also mention me: `@citebot what did the mayor say about the bridge?`"),
    ("Follow-ups", "Ask on in the thread on an answer (or reply to it): “what else did "
     "she say?”, “and the mayor?”, “when was that?”"),
    ("/add url | text | file", "Add an article from a link, pasted text, or a .txt, .md or "
     ".html file. Or right-click a message \u2192 Apps \u2192 **Add article** to add its links."),
    ("/articles", "This server's articles, newest first."),
    ("/remove article", "Remove an article (whoever added it, or Manage Server)."),
    ("/reindex", "Rebuild this server's search index (Manage Server)."),
    ("/feeds add | /watch", "Follow a site's feed, or add the links posted in a channel, "
     "without `/add` (Manage Server)."),
    ("/insights", "What members asked that nothing answered, grouped; off until enabled, "
     "never who asked (Manage Server)."),
    ("\U0001f44d / \U0001f44e", "Tell us whether an answer helped; it improves citebot."),
)


# -- refusals and errors -------------------------------------------------------------------

SHUTTING_DOWN = "citebot is shutting down for a moment; please try again in a minute."
DM_ONLY = ("citebot answers from the articles added to a server, so it only works in servers. "
           "Invite it to one, add articles with `/add`, then ask there.")
UNEXPECTED = "Something went wrong on citebot's side; it has been logged. Please try again."
MANAGE_SERVER = "This needs the **Manage Server** permission."
REINDEX_RUNNING = "A reindex of this server is already running; it will be done soon."
NO_LINKS = "That message has no http(s) links to add."
EMPTY_QUESTION = "Ask me a question after the mention, e.g. `@citebot what did the mayor say?`"
BAD_URL = "That is not an http(s) link; give the full address, starting with https://."
