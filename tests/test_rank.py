"""The learned rankers and the "not found" decision: rarity from a fixed table, a decision
that does not change with what else is indexed, repeated sentences quoted once, and the
seed article's questions worded differently from its text."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from config.settings import Settings
from index.encode.embed import Embedder
from index.models import Article, Passage, Sentence
from retrieval.core import Core
from retrieval.features import covered, pool_weights, stems
from retrieval.fusion import fuse
from retrieval.models import RankedPassage
from retrieval.question import analyse, background_weights
from retrieval.quotes import QuoteSelector
from retrieval.rank import (
    FOUND_FEATURES,
    PassageRanker,
    SentenceRanker,
    found_features,
    relevance,
)
from retrieval.rarity import rarity
from tests.conftest import ARTICLE, SHARED

SEED = SHARED / "seed" / "000_25aae2e60ceb2198.txt"


def test_rarity_comes_from_a_fixed_table() -> None:
    assert rarity("the") == rarity("said") == 0.0
    assert 0 < rarity("bridge") < rarity("guesthouse")
    assert rarity("zzqxv") == rarity("Zzqxv") == max(rarity(w) for w in ("zzqxv", "pyongyang"))


def test_fusion_weighs_cosine_and_bm25_normalised_by_the_best() -> None:
    dense = {1: 0.8, 2: 0.5}
    lexical = {2: 10.0, 3: 5.0}
    fused = fuse(dense, lexical, 0.6)
    assert fused == pytest.approx({1: 0.48, 2: 0.3 + 0.4, 3: 0.2})
    assert fuse(dense, {}, 0.6) == pytest.approx({1: 0.48, 2: 0.3})
    assert fuse({}, {7: 0.0}, 0.6) == {7: 0.0}  # no BM25 at all: no division by zero
    assert dense == {1: 0.8, 2: 0.5} and lexical == {2: 10.0, 3: 5.0}  # inputs untouched


def test_background_weights_ignore_the_collection_but_pool_weights_do_not() -> None:
    question = "Who opened the Marlow river bridge?"
    one = ["The Marlow river bridge opened on Monday.", "The bridge has four lanes."]
    many = one + ["A bridge and a river.", "Another bridge.", "Bridge news."] * 5
    assert pool_weights(question, one) != pool_weights(question, many)
    weights = background_weights(question)
    assert set(weights) == {"marlow", "river", "bridge", "open"}
    assert covered(weights, stems(one[0])) == 1.0 and covered(weights, stems(one[1])) < 0.5


def passage(text: str, number: int, sentences: list[tuple[int, int]]) -> Passage:
    article = Article("a", "c", "Ferry news", None, None, "2024-05-01", None, "h", 3, "now")
    return Passage(number, article, number, text, tuple(Sentence(s, e) for s, e in sentences))


def test_a_sentence_repeated_word_for_word_is_quoted_once() -> None:
    head = "Ferry fares rise to nine dollars."
    p1 = passage(head, 1, [(0, len(head))])
    p2 = passage(head + " Commuters object.", 2, [(0, len(head)), (len(head) + 1, len(head) + 18)])
    ranked = [RankedPassage(p1, 1.0, 0.5, 1.0), RankedPassage(p2, 1.0, 0.5, 1.0)]
    quotes = QuoteSelector(margin=100.0).select(analyse("How much are ferry fares?"), ranked)
    assert [q.text for q in quotes].count(head) == 1 and len(quotes) == 2


def test_rankers_follow_their_weights() -> None:
    good = passage("Fares rose to nine dollars, the ferry company said.", 2, [(0, 51)])
    dull = passage("Weather was mild.", 1, [(0, 17)])
    ranked = [RankedPassage(dull, 1.0, 0.9, 0.0), RankedPassage(good, 0.5, 0.2, 3.0)]
    question = analyse("How much do ferry fares cost?")
    by_dense = PassageRanker({"dense": 1.0}).rerank(question, ranked, date(2024, 5, 2))
    by_words = PassageRanker({"coverage_bg": 1.0}).rerank(question, ranked, date(2024, 5, 2))
    assert by_dense[0].passage is dull and by_words[0].passage is good
    assert by_words[0].score == pytest.approx(covered(background_weights(question.text),
                                                      stems(good.text)))
    scored = SentenceRanker({"coverage_bg": -1.0}).score(question, by_words)
    assert scored[0][1].passage is dull


def ask_relevance(core: Core, question: str) -> float:
    return core.ask("news", question).relevance


def test_not_found_does_not_depend_on_what_else_is_indexed(settings: Settings,
                                                          real_embedder: Embedder) -> None:
    """The same question about the same article gets the same relevance whether the
    collection holds that article alone or many others beside it."""
    core = Core.open(settings, embedder=real_embedder)
    try:
        title, _, body = ARTICLE.partition("\n")
        core.add_text("news", title=title, text=body)
        questions = ("What did Transport minister Arjun Patel say about tolls?",
                     "How much over budget was the Marlow bridge?")
        alone = [ask_relevance(core, q) for q in questions]
        for n in range(12):
            core.add_text("news", title=f"Bridge works {n}", text=(
                f"Crews inspected bridge number {n} over the river on Tuesday.\n\n"
                f"Traffic on the bridge resumed after {n + 2} hours, the city said."))
        crowded = [ask_relevance(core, q) for q in questions]
        features = found_features(analyse(questions[0]), [], None)
        assert not features.any() and relevance(features) < 0.5
    finally:
        core.close()
    assert np.allclose(alone, crowded) and min(alone) > 0.4


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not present")
@pytest.mark.parametrize(("question", "held"), [
    ("What did Pompeo say about how he slept?", "slept just fine"),  # no said-verb by "slept"
    ("What did Kim say about the discussions?", "very serious discussion"),
    ("Where did Pompeo stay overnight?", "spent the night"),  # worded differently
    ("What nickname did Trump give Kim?", "little rocket man"),  # a quoted nickname
    ("What gifts did Pompeo bring?", "gifts from Trump"),  # "the secretary of state" there
    ("What is the capital of France?", None),
    ("What did Biden say about tariffs?", None),
])
def test_seed_article_alone(real_core: Core, question: str, held: str | None) -> None:
    """Questions worded differently from the seed article, asked of it alone: answered with
    the sentence that holds the answer first; questions it does not answer are not found."""
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    real_core.add_text("news", title=title, text=body)
    answer = real_core.ask("news", question)
    assert answer.found == (held is not None)
    if held is not None:
        assert held in answer.quotes[0].text


def test_the_headline_counts_for_the_words_a_sentence_leaves_to_it() -> None:
    """"What gifts did Pompeo bring?" of a sentence that says "the secretary of state": the
    name is in the article's title, so the window-with-title share is higher than the
    window's own."""
    text = "The secretary of state delivered gifts from the president, including a CD."
    article = Article("a", "c", "Pompeo in Pyongyang", None, None, "2024-05-01", None, "h", 1,
                      "now")
    p = Passage(1, article, 1, text, (Sentence(0, len(text)),))
    x = found_features(analyse("What gifts did Pompeo bring?"),
                       [RankedPassage(p, 1.0, 0.5, 1.0)], (RankedPassage(p, 1.0, 0.5, 1.0), 0))
    features = dict(zip(FOUND_FEATURES, x, strict=True))
    assert features["titled_bg"] > features["window_bg"] > 0
