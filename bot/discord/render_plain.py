"""An answer as one plain-text Discord message, for when Discord refuses the answer's embeds.

The layout is the terminal's (`bot/render_text.py`: each quote, its speaker, a numbered
citation), not the refused embeds', so no embed field is sent again. Article text is made inert
as in the embeds (`render.sanitize`); links (highlighting the quote, as in the embeds) are bare
and in angle brackets, so never masked and never previewed; and the message stays within
Discord's 2000 characters: the first quote is shortened if it must be, later quotes that do not
fit whole are left out.
"""

from __future__ import annotations

from bot.discord.render import MESSAGE_MAX, SNIPPET_CHARS, clip, fragment_url, sanitize
from bot.render_text import cite
from retrieval.models import Answer, Citation, Claim, Quote

QUESTION_CHARS = 300
SHORTEST_QUOTE = 40  # a quote cut shorter than this says too little to be worth sending
NOT_FOUND = "The articles in this server do not answer this question."
NOTHING_INDEXED = ("No article in this server matches this question. Add articles with "
                   "`/add url`, `/add text` or `/add file`.")


def answer_text(answer: Answer, limit: int = MESSAGE_MAX) -> str:
    """The answer as one message of at most `limit` characters."""
    text = f"**{clip(sanitize(answer.question), QUESTION_CHARS) or 'Question'}**"
    if not answer.found:
        return clip("\n\n".join([text, *_not_found(answer)]), limit)
    if answer.written is not None:
        prose = " ".join(Claim(sanitize(c.text), c.refs).marked() for c in answer.written.claims)
        notice = f"\n*{answer.written.notice}*" if answer.written.notice else ""
        text += "\n\n" + clip(prose, limit // 2) + notice
    for i, q in enumerate(answer.quotes, 1):
        block = _quote(i, q, limit - len(text) - 2, shorten=i == 1)
        if block is None:
            break
        text += "\n\n" + block
    if answer.note and len(text) + len(answer.note) + 4 <= limit:
        text += f"\n\n*{sanitize(answer.note)}*"
    return text


def _quote(number: int, q: Quote, room: int, *, shorten: bool) -> str | None:
    """A quote, its speaker and its citation in at most `room` characters, or None."""
    tail = f"\n{_citation(number, q.citation, q.text)}"
    speaker = f"\n\u2014 {sanitize(clip(q.speaker, 100))}" if q.speaker else ""
    text = sanitize(q.text)
    budget = room - len(tail) - len(speaker) - len(f"\u201c\u201d [{number}]")
    if len(text) > budget:
        if not shorten or budget < SHORTEST_QUOTE:
            return None
        text = clip(text, budget)
    return f"\u201c{text}\u201d [{number}]{speaker}{tail}"


def _citation(number: int, c: Citation, quoted: str) -> str:
    """[1] Title — source, date, paragraph n <link that highlights `quoted`>"""
    line = f"[{number}] {sanitize(clip(cite(c), 400))}"
    url = fragment_url(c.url, quoted)
    return f"{line} <{url}>" if url else line


def _not_found(answer: Answer) -> list[str]:
    if not answer.passages:
        return [NOTHING_INDEXED]
    blocks = [f"{NOT_FOUND} The closest passages:"]
    for i, r in enumerate(answer.passages[:3], 1):
        a = r.passage.article
        c = Citation(a.id, a.title, a.source, a.url, a.published, r.passage.number)
        snippet = sanitize(clip(r.passage.text, SNIPPET_CHARS))
        blocks.append(f"{snippet}\n{_citation(i, c, r.passage.text)}")
    return blocks
