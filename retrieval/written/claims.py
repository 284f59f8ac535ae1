"""Reading what the model wrote: statements and the sentence ids they cite, checked one by one.

A statement is the text up to a citation (``[S2]``, ``[S2, S5]``, ``[S2][S5]``) and the
punctuation after it. It is kept only if

- it cites at least one sentence, and every id it cites was given to the model;
- every run of words it puts in quotation marks is found verbatim in one single cited
  sentence (``…`` inside a quotation may skip words of that sentence, in order); a quotation
  mark left open is a quotation that cannot be checked;
- at least three words, and half of its words, are left once mentions, links and anything
  command-like are taken out (a statement that was mostly those is what an injected article
  asks for).

Otherwise it is dropped, with a reason. The quotes shown under the answer are the cited
sentences' stored text (`retrieval.quotes.make_quote`), never the model's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from retrieval.written.prompt import Source

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

_PAIRS = re.compile(r"“([^“”]*)”|\"([^\"]*)\"|«([^«»]*)»|„([^„“”]*)[“”]|‘([^‘’]*\s[^‘’]*)’")
_QUOTE_MARKS = re.compile(r"[“”\"«»„]")
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.+|\[\s*(?:…|\.\.\.)\s*\])\s*")
_EDGE = " \t\n.,;:!?'’‘-–—()[]"

_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u206f\ufeff]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_URL = re.compile(
    r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*"  # anything with a scheme, or www.
    r"|\b(?:discord(?:app)?\.com/invite|discord\.gg|discord\.me)/\S*"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|gg|io|ly|me|co|xyz|info|app|link|ru|cn"
    r"|tk|top|site|online|click)\b(?:/\S*)?")
_MENTION = re.compile(r"<[@#/:a][^>]*>|@+\w*")
_COMMAND = re.compile(r"(?:(?<=^)|(?<=\s))[/!][A-Za-z][\w:-]*")
_MARKUP = re.compile(r"[`<>|*_~#\\]")


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


def clean(prose: str) -> str:
    """The model's prose without mentions, links (a markdown link keeps its label), anything
    command-like, markup and invisible characters; whitespace collapsed."""
    text = _INVISIBLE.sub(" ", prose)
    text = _MD_LINK.sub(lambda m: m[1], text)
    text = _URL.sub("", text)
    text = _MENTION.sub("", text)
    text = _COMMAND.sub("", text)
    text = _MARKUP.sub("", text)
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return text.strip(" ,;:")


def _normal(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split())


def quotations(prose: str) -> tuple[list[str], bool]:
    """The runs of words ``prose`` puts in quotation marks, and whether every quotation mark
    was closed."""
    found = [next(g for g in m.groups() if g is not None) for m in _PAIRS.finditer(prose)]
    balanced = not _QUOTE_MARKS.search(_PAIRS.sub(" ", prose))
    return found, balanced


def quoted_in(quote: str, sentence: str) -> bool:
    """True when ``quote`` (its pieces around any ellipsis, in order) is verbatim in
    ``sentence`` (whitespace and the shape of quotation marks aside; a capital first
    letter may start a quotation that starts mid-sentence)."""
    target = _normal(sentence)
    pieces = [p.strip(_EDGE) for p in _ELLIPSIS.split(_normal(quote))]
    pieces = [p for p in pieces if p]
    if not pieces:
        return False
    pos = 0
    for i, piece in enumerate(pieces):
        at = target.find(piece, pos)
        if at < 0 and i == 0:
            at = target.find(piece[0].lower() + piece[1:], pos)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def check(statement: Statement, given: Mapping[str, Source]) -> Checked | str:
    """The statement, cleaned, if it passes every check; otherwise why it is dropped."""
    if not statement.ids:
        return "a statement without a citation"
    unknown = [i for i in statement.ids if i not in given]
    if unknown:
        return f"a citation of a passage it was not given ({', '.join(unknown)})"
    cited = tuple(dict.fromkeys(given[i] for i in statement.ids))
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
    return Checked(prose, cited)
