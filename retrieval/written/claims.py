"""Reading what the model wrote: statements and the sentence ids they cite, checked one by one.

A statement is the text up to a citation (``[S2]``, ``[S2, S5]``, ``[S2][S5]``) and the
punctuation after it. It is kept only if

- it cites at least one sentence, and every id it cites was given to the model;
- it carries no code or shell command, asks for no credentials and promises no gifts
  (`retrieval.written.screen.hazard`);
- every run of words it puts in quotation marks (any mark a reader reads as one) is found
  verbatim, on word boundaries, in one single cited sentence (``…`` inside a quotation may
  skip words of that sentence, in order, never a negation); a quotation mark left open is a
  quotation that cannot be checked (`retrieval.written.quoting`);
- at least three words, and half of its words, are left once mentions, links (every bare
  domain too) and anything command-like are taken out (a statement that was mostly those is
  what an injected article asks for);
- what it says is supported by the sentences it cites: its names, numbers, dates and content
  words are found in them or in the question, and no negation is added or left out
  (`retrieval.written.support`).

Otherwise it is dropped, with a reason. The quotes shown under the answer are the cited
sentences' stored text (`retrieval.quotes.make_quote`), never the model's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.written import quoting
from retrieval.written.prompt import Source
from retrieval.written.quoting import quoted_in
from retrieval.written.screen import clean, hazard
from retrieval.written.support import unsupported

__all__ = ["Checked", "Statement", "check", "check_rewrite", "clean", "leftover_statement",
           "quotations", "quoted_in", "split_statements"]

CLAIM_MAX = 600  # characters of one statement; longer is not a sentence of an answer
CLAIMS_MAX = 6  # statements kept; the rules ask for two to four
NO_ANSWER = "NO ANSWER"
KEPT_WORDS_MIN = 3  # fewer words left once cleaned is not a statement
_WORD = re.compile(r"\w+")

_CITE = r"\[\s*S?\d{1,4}(?:\s*[,;]\s*S?\d{1,4})*\s*\]"
# one or more citation groups, then closing punctuation: the end of a statement
_END = re.compile(rf"(?:\s*{_CITE})+[\s.!?,;:)\]\"”’»]*", re.IGNORECASE)
_ID = re.compile(r"\d{1,4}")
_GROUP = re.compile(_CITE, re.IGNORECASE)

@dataclass(frozen=True)
class Statement:
    """A statement as written: its prose (citations taken out) and the ids it cites."""

    prose: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Checked:
    """A statement that passed every check: cleaned prose and the sentences it cites."""

    prose: str
    sources: tuple[Source, ...]


def split_statements(text: str, *, final: bool) -> tuple[list[Statement], str]:
    """The complete statements of ``text`` and the text after them. While the model is still
    writing (``final`` false), a statement whose citations reach the end of the text may
    still grow (another id, another group), so it waits."""
    statements: list[Statement] = []
    pos = 0
    for match in _END.finditer(text):
        after = text[match.end():].lstrip()
        if not final and (not after or after.startswith("[")):
            break
        ids = tuple(f"S{int(n)}" for g in _GROUP.findall(match[0]) for n in _ID.findall(g))
        prose = text[pos : match.start()]
        tail = _GROUP.sub("", match[0]).strip()  # the statement's own closing punctuation
        statements.append(Statement((prose + tail).strip(), ids))
        pos = match.end()
    return statements, text[pos:]


def leftover_statement(rest: str) -> Statement | None:
    """The text after the last citation, as a statement without one (None if it says
    nothing, or only that there is no answer)."""
    words = rest.strip()
    if not re.search(r"\w", words) or words.upper().startswith(NO_ANSWER):
        return None
    return Statement(words, ())


def quotations(prose: str) -> tuple[list[str], bool]:
    """The runs of words ``prose`` puts in quotation marks, and whether every quotation mark
    was matched (`retrieval.written.quoting`)."""
    found = quoting.quotations(prose)
    return list(found.quotes), found.balanced


def check_rewrite(line: str, known: Sequence[str]) -> str | None:
    """Why a follow-up's rewrite must not be shown ("Read as: ...") nor searched, if it must
    not: the statements' checks, applied to one line with no citation. It may carry no code,
    request or promise (`hazard`), nothing `clean` would take out (links, bare domains,
    mentions, commands, markup), and quote only words of the conversation (``known``: its
    questions and answers), verbatim."""
    danger = hazard(line)
    if danger:
        return danger.replace("a statement", "a rewrite")
    tidy = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(line.split())).strip(" ,;:")
    if clean(line) != tidy:
        return "a rewrite carrying links, mentions, commands or markup"
    quotes, balanced = quotations(line)
    if not balanced or any(not any(quoted_in(q, k) for k in known) for q in quotes):
        return "a rewrite quoting words the conversation does not hold"
    return None


def check(statement: Statement, given: Mapping[str, Source],
          question: str = "") -> Checked | str:
    """The statement, cleaned, if it passes every check; otherwise why it is dropped."""
    if not statement.ids:
        return "a statement without a citation"
    unknown = [i for i in statement.ids if i not in given]
    if unknown:
        return f"a citation of a passage it was not given ({', '.join(unknown)})"
    cited = tuple(dict.fromkeys(given[i] for i in statement.ids))
    danger = hazard(statement.prose)
    if danger:
        return danger
    prose = clean(statement.prose)  # what would be shown is what is checked
    words, kept = len(_WORD.findall(statement.prose)), len(_WORD.findall(prose))
    if kept < KEPT_WORDS_MIN or kept * 2 < words:
        return "a statement that was mostly mentions, links or commands"
    if len(prose) > CLAIM_MAX:
        return "a statement too long to be a sentence of an answer"
    quotes, balanced = quotations(prose)
    if not balanced:
        return "a quotation mark left open"
    for quote in quotes:
        if not any(quoted_in(quote, s.text) for s in cited):
            return "quoted words not found in the sentence it cites"
    problem = unsupported(prose, [s.text for s in cited], question)
    if problem:
        return problem
    return Checked(prose, cited)
