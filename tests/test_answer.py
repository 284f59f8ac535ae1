"""Answers: the right verbatim quote with its citation, speakers, not found, verbatim always."""

from __future__ import annotations

import random

from index.text import name_keys
from retrieval.core import Core
from retrieval.question import analyse
from tests.conftest import ARTICLE
from tests.fakes import HashEmbedder

EXAMPLES = {
    "flood": """Port Averly approves flood barrier

The city council voted 7-2 on Tuesday to build a retractable flood barrier across the harbor.

"We cannot ask families to rebuild in the same place and hope the water stays away," Mayor Lucia Ortiz said after the vote.

Ortiz also said that the city would apply for a federal grant to cover half of the $40 million cost.

Councilman Derek Hale argued the money would be better spent buying out homes. "We are building a wall around a problem we created," Hale said.

Related news
""",
    "bridge": ARTICLE,
}


def load(core: Core) -> None:
    for text in EXAMPLES.values():
        title, _, body = text.partition("\n")
        core.indexer.add_text("default", title=title, text=body, url="https://news.example/"
                              + title.split()[0].lower(), source="Example News",
                              published="2024-05-01")


def test_quote_is_the_answering_sentence_with_its_citation(real_core: Core) -> None:
    load(real_core)
    answer = real_core.answerer.ask("default", "What did Ortiz say about paying for the barrier?")
    assert answer.found
    best = answer.quotes[0]
    assert best.text == ("Ortiz also said that the city would apply for a federal grant to cover "
                         "half of the $40 million cost.")
    assert best.speaker == "Ortiz"
    c = best.citation
    assert (c.title, c.source, c.published, c.paragraph) == (
        "Port Averly approves flood barrier", "Example News", "2024-05-01", 3)
    assert c.url == "https://news.example/port"
    assert len(answer.passages) >= 4
    data = answer.to_json()
    assert data["found"] is True and "[1]" in data["answer"]
    assert data["quotes"][0]["paragraph"] == 3  # type: ignore[index]
    assert "Related news" not in str(data)


def test_speaker_questions_prefer_that_speakers_words(real_core: Core) -> None:
    load(real_core)
    answer = real_core.answerer.ask("default", "What did Hale say about the barrier?")
    assert answer.found and answer.speaker == "Hale"
    assert "hale" in name_keys(answer.quotes[0].speaker or "")
    assert analyse("according to Mayor Reyes, what does the bridge connect?").speaker_keys == {
        "reyes"}
    assert analyse("how long is the bridge?").speaker is None


def test_unrelated_question_is_not_found_but_shows_closest(real_core: Core) -> None:
    load(real_core)
    answer = real_core.answerer.ask("default", "Which team won the 1998 football world cup?")
    assert not answer.found and answer.quotes == ()
    assert answer.passages  # closest matches are still shown
    assert answer.to_json()["found"] is False


def test_empty_and_huge_questions_are_bounded(real_core: Core) -> None:
    load(real_core)
    assert not real_core.answerer.ask("default", "   ").found
    huge = real_core.answerer.ask("default", "bridge " * 5000)
    assert len(huge.question) <= 1000


def test_restricting_to_one_article(real_core: Core) -> None:
    load(real_core)
    bridge = next(a for a in real_core.storage.list_articles("default") if "bridge" in a.title)
    answer = real_core.answerer.ask("default", "What did the mayor say?", article_id=bridge.id)
    assert answer.passages
    assert {p.passage.article.id for p in answer.passages} == {bridge.id}


WORDS = ["the", "council", "mayor", "bridge", "vote", "said", "would", "river", "city", "budget", "storm", "police", "report", "minister", "talks", "deal", "school", "price", "market", "team", "game", "plan", "U.S.", "Mr.", "Jan.", "Dr.", "3.5", "percent", "'quoted'", '"words"', "—", "–", "(aside)", ";", ":", ",", "!", "?", "é", "ü", "北京", "مرحبا", "\u200b"]


def random_article(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(1, 8)):
        sents = []
        for _ in range(rng.randint(1, 5)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
            sents.append(" ".join(words) + rng.choice([".", "!", "?", "", '."', "…"]))
        paras.append(rng.choice([" ", "  ", "\t"]).join(sents))
    return "\n\n".join(paras)


def test_every_quote_is_verbatim_over_many_random_articles(settings) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261129)
    core = Core.open(settings, embedder=HashEmbedder(max_tokens=24))
    try:
        for i in range(150):
            core.indexer.add_text("default", title=f"Random {i}", text=random_article(rng))
        checked = 0
        for _ in range(150):
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
            answer = core.answerer.ask("default", question)
            texts = {p.passage.id: p.passage.text for p in answer.passages}
            stored = core.storage.passages("default", list(texts))
            for q in answer.quotes:
                para = next(p for p in stored.values()
                            if p.article.id == q.citation.article_id
                            and p.number == q.citation.paragraph)
                assert para.text[q.start:q.end] == q.text and q.text in para.text
                checked += 1
        assert checked > 100
    finally:
        core.close()


def test_the_asked_speakers_passage_outranks_a_closer_match_by_another(hash_core: Core) -> None:
    """Hale's words match the question a little better; Ortiz is the one asked about."""
    said = {"Councilman Derek Hale": '"The barrier will cost what it has to cost," he said.',
            "Mayor Lucia Ortiz": '"The barrier will cost what it costs," he said.'}
    ids = {who: hash_core.indexer.add_text(
        "news", title="Barrier debate", text=f"{who} said the council had voted.\n\n{quote}"
    ).article.id for who, quote in said.items()}
    asked = analyse("What did Ortiz say about what the barrier will cost?")
    ranked = hash_core.answerer.searcher.search(
        "news", asked, hash_core.embedder.embed_query(asked.text), 5)
    order = [(r.passage.article.id, r.passage.number) for r in ranked]
    assert order.index((ids["Mayor Lucia Ortiz"], 2)) < order.index(
        (ids["Councilman Derek Hale"], 2))


def test_quotes_prefer_the_asked_speakers_sentence() -> None:
    from index.models import Article, Passage, Sentence
    from retrieval.models import RankedPassage
    from retrieval.quotes import QuoteSelector

    first = '"The barrier will cost what it costs," he said.'
    text = f"{first} {first.replace('he said', 'she said')}"
    meta = Article("a1", "news", "Barrier debate", None, None, None, None, "h", 1, "2024-01-01")
    passage = Passage(1, meta, 1, text, (Sentence(0, len(first), "Derek Hale"),
                                         Sentence(len(first) + 1, len(text), "Lucia Ortiz")))
    asked = analyse("What did Ortiz say about what the barrier will cost?")
    ranked = [RankedPassage(passage, 1.0, 1.0, 1.0)]
    quotes = QuoteSelector().select(asked, ranked)
    assert quotes[0].speaker == "Lucia Ortiz"
