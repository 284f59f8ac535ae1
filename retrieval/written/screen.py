"""What the model's prose must never carry to a member, whatever an article asked it to write.

`hazard` says why a statement (or a follow-up's rewrite) must not be shown at all:

- code or a shell command: anything in backticks, or the shape of a command (``rm -rf``,
  ``curl host/...``, a pipe into a shell, ``sudo``, PowerShell, ...);
- a request for credentials: "your" or a verb of asking ("send", "share", "enter", "needs",
  "DM", ...) a few words before a password, token, login, code, seed phrase, key or card;
- a promise of gifts: "free", "claim", "win", "redeem", ... a few words before Nitro, a gift,
  a prize, a reward, crypto, a giveaway; or "you have won".

The text is read as a reader sees it: invisible characters removed and compatibility forms
folded (``ｐａｓｓｗｏｒｄ`` is "password").

`clean` takes out what may be removed while the rest is shown: mentions, links (anything with
a scheme, ``www.``, every bare domain whatever its ending, also written with ``[.]``, ``(dot)``
or a full-width dot; a markdown link keeps its label), ``/`` and ``!`` commands, markup and
invisible characters.
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                       "\u2060-\u206f\ufeff]")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_DOT = r"(?:[.\u2024\u3002\uff0e\uff61\ufe52]|\s*[\[({]\s*(?:\.|dot)\s*[\])}]\s*)"
_URL = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://\S*"  # anything with a scheme
    r"|\b(?:mailto|javascript|vbscript|data|tel|sms|magnet|steam|discord|file):\S+"
    r"|\bwww" + _DOT + r"\S*"
    # a bare domain: labels joined by dots, ending in a label of two or more letters
    r"|(?<![\w-])[\w-]+(?:" + _DOT + r"[\w-]+)*" + _DOT + r"[^\W\d_]{2,63}\b(?::\d+)?(?:/\S*)?")
_MENTION = re.compile(r"<[@#/:a][^>]*>|@+\w*")
_COMMAND = re.compile(r"(?:(?<=^)|(?<=\s))[/!][A-Za-z][\w:-]*")
_MARKUP = re.compile(r"[`<>|*_~#\\]")

_SHELL = re.compile(
    r"`|\brm\s+-{1,2}[a-z]*[rf]|\bsudo\s+\w|\b(?:curl|wget|iwr|irm)\s+(?:-\S+\s+)*\S*[./:]"
    r"|\|\s*(?:sudo\s+)?(?:ba|z|k|da)?sh\b|\b(?:ba|z)?sh\s+-c\b|\bchmod\s+(?:[+-]?[rwx]+|[0-7]{3})"
    r"|\bpowershell\b|\b(?:iex|invoke-expression|invoke-webrequest)\b|\bmkfs\b|\bdd\s+if="
    r"|:\(\)\s*\{|\bnc\s+-[a-z]*e\b|\bbase64\s+(?:-d|--decode)\b|\bformat\s+c:|\bdel\s+/[a-z]"
    r"|\b(?:python3?|perl|ruby|node)\s+-[ce]\b|>\s*/dev/|\bcmd(?:\.exe)?\s+/c\b"
    r"|\b(?:pip|npm)\s+i(?:nstall)?\s|\b(?:eval|exec)\s*\(", re.IGNORECASE)
_WITHIN = r"\b(?:\W+\w+){0,5}?\W+"  # up to five words between
_SECRET = (r"(?:pass\s*words?|passcodes?|passphrases?|credentials?|log-?ins?|sign-?ins?|tokens?"
           r"|2fa|mfa|otp|two[- ]factor|(?:one[- ]time|verification|security|auth\w*|backup"
           r"|recovery|login|2fa)\s+(?:codes?|keys?|phrases?)|seed\s+phrases?|private\s+keys?"
           r"|api\s+keys?|pin\s+(?:codes?|numbers?)|card\s+(?:numbers?|details)|cvv|cvc|ssn|social\s+security"
           r"|bank\s+details|account\s+details|qr\s+codes?)\b")
_ASK = (r"\b(?:your|ur|send|share|give|enter|type|provide|submit|verify|confirm|dm|paste|post"
        r"|tell|needs?|requires?|asks?\s+for|scan|reply\s+with|hand\s+over)")
_CREDENTIALS = re.compile(_ASK + r"(?:\W+|" + _WITHIN + r")" + _SECRET, re.IGNORECASE)
_PRIZE = (r"(?:nitro|gifts?|prizes?|rewards?|robux|v-?bucks|skins?|crypto|bitcoin|btc|eth|nfts?"
          r"|giveaways?|airdrops?|boosts?)\b")
_PROMISE = r"\b(?:free|claim|claims|redeem|grab|collect|unlock)"
_GIFTS = re.compile(_PROMISE + r"(?:\W+|" + _WITHIN + r")" + _PRIZE
                    + r"|\byou(?:'ve|’ve|\s+have)?\s+(?:won|been\s+selected)\b"
                    + r"|\bnitro\W+(?:gift|giveaway|free)", re.IGNORECASE)

SHELL = "a statement carrying code or a shell command"
CREDENTIALS = "a statement asking for passwords, codes or other credentials"
GIFTS = "a statement promising free Nitro, gifts or prizes"


def readable(text: str) -> str:
    """``text`` as a reader sees it: invisible characters removed, compatibility forms
    (full-width letters, ligatures) folded."""
    return unicodedata.normalize("NFKC", INVISIBLE.sub("", text))


def hazard(text: str) -> str | None:
    """Why ``text`` must not be shown at all, if it carries code, a shell command, a request
    for credentials or a promise of gifts (see the module's docstring); None otherwise."""
    seen = readable(text)
    if _SHELL.search(seen):
        return SHELL
    if _CREDENTIALS.search(seen):
        return CREDENTIALS
    if _GIFTS.search(seen):
        return GIFTS
    return None


def clean(prose: str) -> str:
    """The model's prose without mentions, links (a markdown link keeps its label), anything
    command-like, markup and invisible characters; whitespace collapsed."""
    text = INVISIBLE.sub(" ", prose)
    text = _MD_LINK.sub(lambda m: m[1], text)
    text = _URL.sub("", text)
    text = _MENTION.sub("", text)
    text = _COMMAND.sub("", text)
    text = _MARKUP.sub("", text)
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return text.strip(" ,;:")
