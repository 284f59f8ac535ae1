"""Quotations in the model's prose: finding every one a reader would read as such, and checking
it is verbatim, on whole words, in one sentence.

**Which characters are quotation marks.** Every character with the Unicode property
Quotation_Mark=Yes (PropList.txt; read through the ``regex`` package's
``\\p{Quotation_Mark}``: ``"`` ``'`` ``«`` ``»`` ``‘`` ``’`` ``‚`` ``‛`` ``“`` ``”`` ``„`` ``‟``
``‹`` ``›`` ``⹂`` ``「`` ``」`` ``『`` ``』`` ``〝`` ``〞`` ``〟`` ``﹁``-``﹄`` ``＂`` ``＇`` ``｢``
``｣``), and a few characters that look like one without the property (primes and modifier
letters: ``″`` ``‶`` ``ʺ`` ``˝`` ``ˮ`` ``״`` ``′`` ``‵`` ``ʹ`` ``ʻ`` ``ʼ`` ``´`` ``׳``).

**Which are apostrophes instead.** A single mark (``'`` ``’`` ``‘`` ``‛`` ``＇`` and the
lookalikes) inside a word before a short ending (don't, Ortiz's, we've) or after a name's
short start before a capital (O'Brien, d'Ivoire), before two digits after a space (the '90s),
or after an ``s``, ``z`` or ``x`` ending a word unless it closes a quotation opened by a
single mark (the officials' plan, “the officials' plan”). Every other mark opens or closes a
quotation, whatever its shape: one opened with ``„`` and closed with ``“`` is one quotation,
and so is ``“…’``. A mark after a space opens, a mark before a space or punctuation closes,
any other closes what is open or else opens; a mark that closes nothing, or a quotation never
closed, leaves the statement unbalanced (it cannot be checked, so it is dropped).

**Verbatim.** A quotation is found in a sentence when its words (the pieces around any
ellipsis, in order) are there exactly, whitespace and the shape of quotation marks aside, and
every piece starts and ends on a word boundary of the sentence: ``“can”`` is not in "cannot" nor
in "can't", ``“ply”`` is not in "apply", ``“toxic”`` is not in "non-toxic". An ellipsis may
not skip a negation ("not", "never", "cannot", ...): that would make the sentence say the
opposite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

LOOKALIKES = "″‶ʺ˝ˮ״′‵ʹʻʼ´׳"
SINGLES = "'’‘‛＇′‵ʹʻʼ´׳"  # marks also written as apostrophes
_MARK = regex.compile(rf"[\p{{Quotation_Mark}}{LOOKALIKES}]")
_OPENS_AFTER = "([{<—–-/"  # a mark right after these (or a space) opens
_CLOSES_BEFORE = ".,;:!?)]}>…—–-/"  # a mark right before these (or a space) closes
_ELISION = re.compile(r"\d\d(?:s\b|\b)")
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.+|\[\s*(?:…|\.\.\.)\s*\])\s*")
_EDGE = " \t\n.,;:!?\"-–—()[]"
_JOINERS = "\"-‐‑.,/"  # inside a word when letters are on both sides (after _normal)
_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|neither|nobody|nothing|nowhere|cannot"
                       r"|without|\w+n\"t)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """The quotations of a text, and whether every quotation mark was matched."""

    quotes: tuple[str, ...]
    balanced: bool


def _word(ch: str) -> bool:
    return ch.isalnum()


def _apostrophe(text: str, i: int, single_open: bool) -> bool:
    """Whether the single mark at ``i`` is an apostrophe rather than a quotation mark
    (``single_open``: the innermost open quotation was opened by a single mark, which this
    one may close)."""
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if _word(before) and _word(after):
        return _inside_word(text, i)
    if (before.isspace() or before in _OPENS_AFTER) and _ELISION.match(text, i + 1):
        return True
    return (not single_open and before in "sSzZxX" and not _word(after)
            and i > 1 and _word(text[i - 2]))


def _inside_word(text: str, i: int) -> bool:
    """Whether a mark between two letters reads as an apostrophe: a short ending (don't,
    Ortiz's, we've, rock'n), a name's short start before a capital (O'Brien, d'Ivoire), or
    o'clock. Otherwise (``x'the barrier is free'``) it may open a quotation."""
    start, end = i, i + 1
    while start > 0 and _word(text[start - 1]):
        start -= 1
    while end < len(text) and _word(text[end]):
        end += 1
    ending, beginning = text[i + 1 : end], text[start:i]
    if len(ending) <= 2 or text[start:end].lower() in ("o'clock", "o’clock"):
        return True
    return len(beginning) <= 2 and ending[:1].isupper()


def _role(text: str, i: int) -> str:
    """'open', 'close' or 'either' for the quotation mark at ``i``, by what is around it."""
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    opens = before.isspace() or before in _OPENS_AFTER or bool(_MARK.match(before))
    closes = after.isspace() or after in _CLOSES_BEFORE or bool(_MARK.match(after))
    if opens and not closes:
        return "open"
    if closes and not opens:
        return "close"
    return "either"


def quotations(prose: str) -> Found:
    """Every run of words ``prose`` puts between quotation marks (nested ones too), and whether
    every mark was matched (see the module's docstring)."""
    quotes: list[str] = []
    stack: list[int] = []
    balanced = True
    for match in _MARK.finditer(prose):
        i = match.start()
        single_open = bool(stack) and prose[stack[-1]] in SINGLES
        if match[0] in SINGLES and _apostrophe(prose, i, single_open):
            continue
        role = _role(prose, i)
        if role == "open" or (role == "either" and not stack):
            stack.append(i)
        elif stack:
            start = stack.pop()
            quotes.append(prose[start + 1 : i])
        else:
            balanced = False
    return Found(tuple(quotes), balanced and not stack)


def normal(text: str) -> str:
    """``text`` with every quotation mark as ``"`` and whitespace collapsed."""
    return " ".join(_MARK.sub('"', text).split())


def _continues(text: str, at: int, step: int) -> bool:
    """Whether the word at the edge ``at`` (the character just outside a match, looking by
    ``step``) goes on: a letter or digit, or a joiner with one beyond it."""
    if not 0 <= at < len(text):
        return False
    if _word(text[at]):
        return True
    beyond = at + step
    return text[at] in _JOINERS and 0 <= beyond < len(text) and _word(text[beyond])


def _find(target: str, piece: str, pos: int) -> int:
    """The first place at or after ``pos`` where ``piece`` is in ``target`` on word
    boundaries, or -1."""
    at = target.find(piece, pos)
    while at >= 0:
        end = at + len(piece)
        starts = not (_word(piece[0]) and _continues(target, at - 1, -1))
        ends = not (_word(piece[-1]) and _continues(target, end, 1))
        if starts and ends:
            return at
        at = target.find(piece, at + 1)
    return -1


def quoted_in(quote: str, sentence: str) -> bool:
    """True when ``quote`` (its pieces around any ellipsis, in order) is verbatim in
    ``sentence`` on word boundaries, an ellipsis skipping no negation (a capital first letter
    may start a quotation that starts mid-sentence)."""
    target = normal(sentence)
    pieces = [p.strip(_EDGE) for p in _ELLIPSIS.split(normal(quote))]
    pieces = [p for p in pieces if p]
    if not pieces:
        return False
    pos = 0
    for i, piece in enumerate(pieces):
        at = _find(target, piece, pos)
        if at < 0 and i == 0:
            at = _find(target, piece[0].lower() + piece[1:], pos)
        if at < 0 or (i and _NEGATION.search(target[pos:at])):
            return False
        pos = at + len(piece)
    return True
