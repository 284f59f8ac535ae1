"""BM25 scored in Python over candidates: the same figures as FTS5, bounded work per word."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from config.settings import Settings
from index.store import bm25, lexical
from index.text import content_words, porter_stem
from retrieval.core import Core
from tests.fakes import HashEmbedder

STORIES = [
    ("Dam budget", "The council approved the dam's budget on Tuesday.\n\n"
     "Engineers said the dam would hold 40 million cubic metres of water.\n\n"
     "Critics called the budgets unrealistic; the mayor disagreed."),
    ("Ferry strike", "Ferry crews walked out over pay.\n\n"
     "The council said the ferries would run a reduced timetable.\n\n"
     "Passengers queued for hours at the terminal in Crème Bay."),
    ("Council vote", "The council voted to close the old library.\n\n"
     "Librarians protested outside the council chamber.\n\n"
     "The mayor said the council had no choice."),
]
QUESTIONS = ["what did the council say about the ferries timetable",
             "how much water will the dam hold", "why did librarians protest",
             "which budgets were called unrealistic", "queues at Creme Bay terminal"]


def core_with(settings: Settings, max_df: int) -> Core:
    core = Core.open(settings.model_copy(update={"lexical_max_df": max_df}),
                     embedder=HashEmbedder())
    for title, text in STORIES:
        core.indexer.add_text("news", title=title, text=text)
    return core


def fts5_bm25(core: Core, question: str) -> dict[int, float]:
    db: sqlite3.Connection = core.storage.sql.db()  # type: ignore[attr-defined]
    fts = lexical.fts_name("news")
    match = " OR ".join(f'"{w}"' for w in content_words(question))
    return {r[0]: -r[1] for r in db.execute(
        f"SELECT rowid, bm25({fts}, 1.0, 0.25) FROM {fts} WHERE {fts} MATCH ?", (match,))}


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_equal_fts5_bm25_when_every_word_is_counted(settings: Settings,
                                                           question: str) -> None:
    core = core_with(settings, max_df=0)
    try:
        every = list(fts5_bm25(core, "council dam ferry library mayor crews passengers"))
        ours = dict(core.storage.lexical_search("news", question, 50, also=every))
        theirs = fts5_bm25(core, question)
        assert theirs and ours.keys() == theirs.keys()
        for pid, score in theirs.items():
            assert ours[pid] == pytest.approx(score, rel=1e-6), pid
    finally:
        core.close()


def test_a_common_word_still_scores_the_candidates_it_does_not_find(settings: Settings) -> None:
    """With the cap below the count of "council" (5 passages), the word no longer finds
    candidates, but every candidate found otherwise is scored with it, as FTS5 would."""
    core = core_with(settings, max_df=2)
    try:
        question = "council mayor"
        found = dict(core.storage.lexical_search("news", question, 50))
        texts = core.storage.passages("news", list(found))
        assert found and all("mayor" in p.text for p in texts.values())  # "mayor": 2 passages
        assert max(found, key=found.__getitem__) == max(
            found, key=lambda p: fts5_bm25(core, question)[p])
        both = [p for p in found if "council" in texts[p].text]
        only_mayor = [p for p in found if "council" not in texts[p].text]
        assert both and only_mayor and min(found[p] for p in both) > max(
            found[p] for p in only_mayor)
    finally:
        core.close()


def test_document_counts_are_exact_to_the_cap_then_estimated(settings: Settings) -> None:
    core = Core.open(settings, embedder=HashEmbedder())
    try:
        for i in range(60):  # "common" in every passage; "sometimes" in every third article
            extra = " sometimes" if i % 3 == 0 else ""
            core.indexer.add_text("news", title=f"Item {i}",
                                  text=f"A common story number {i}{extra}.\n\nAnd common again.")
        db = core.storage.sql.db()  # type: ignore[attr-defined]
        fts = lexical.fts_name("news")
        counts = lexical.document_counts(db, fts, ["common", "sometimes", "absent"], cap=10)
        assert counts["absent"] == 0
        assert counts["common"] == pytest.approx(120, rel=0.15)
        assert counts["sometimes"] == pytest.approx(20, rel=0.3)
        # estimated, not counted: the 11th match ("sometimes" is in paragraph 6k+1) is rowid 61
        assert counts["sometimes"] == pytest.approx(11 * 120 / 61)
        exact = lexical.document_counts(db, fts, ["common", "sometimes"], cap=0)
        assert exact == {"common": 120, "sometimes": 20}
    finally:
        core.close()


def test_averages_record_is_read_or_recounted(settings: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    core = core_with(settings, max_df=0)
    try:
        db = core.storage.sql.db()  # type: ignore[attr-defined]
        fts = lexical.fts_name("news")
        stats = lexical.collection_stats(db, fts)
        assert stats is not None and stats.passages == 9
        words = sum(len(re.findall(r"\w+", t)) for _, text in STORIES for t in text.split("\n\n"))
        assert stats.avg_lengths[0] == pytest.approx(words / 9)
        assert bm25.decode_averages(b"\x81") is None  # cut short
        assert bm25.decode_averages(b"\x05\x01") is None  # too few columns
        sizes = [bm25.decode_size(r[0]) for r in db.execute(f"SELECT sz FROM {fts}_docsize")]
        assert sum(sizes) / 9 == pytest.approx(sum(stats.avg_lengths))  # type: ignore[arg-type]
        assert bm25.decode_size(None) is None and bm25.decode_size(b"\x81") is None
        monkeypatch.setattr(lexical, "decode_averages", lambda block: None)  # unknown shape
        recounted = lexical.collection_stats(db, fts)
        assert recounted is not None and recounted.passages == 9
        assert recounted.avg_lengths == pytest.approx(stats.avg_lengths)
    finally:
        core.close()


def test_stemming_matches_words_fts5_would_match() -> None:
    assert porter_stem("ferries") == porter_stem("ferry")
    assert porter_stem("crème") == porter_stem("creme")
    stats = bm25.CollectionStats(10, (10.0, 2.0))
    docs = {1: bm25.Doc("The ferries were saying nothing.", ""), 2: bm25.Doc("Nothing here.", "")}
    scored = bm25.scores({porter_stem("ferry"): 1, porter_stem("say"): 1}, docs, stats)
    assert list(scored) == [1]


def test_finder_words_together_find_at_most_twice_the_cap(settings: Settings) -> None:
    """Rarest first, each in at most ``lexical_max_df`` passages, together in at most twice
    that many: the FTS5 query's work is bounded however many rare words a question has."""
    core = core_with(settings, max_df=2)
    try:
        df = {"w1": 1.0, "w2": 2.0, "w3": 2.0, "w4": 2.0, "w5": 3.0}
        finders = bm25.finders(df, core.settings.lexical_max_df)
        assert finders == ["w1", "w2"] and sum(df[w] for w in finders) <= 2 * 2
    finally:
        core.close()


def test_the_scratch_index_ranks_by_fts5_bm25() -> None:
    index = lexical.ScratchIndex([("The ferry strike ended on Monday.", "a"),
                                  ("Ferry ferry ferry fares rose.", "b"),
                                  ("Schools closed for snow.", "c")])
    try:
        found = index.search(content_words("ferry fares"), 10)
        assert [label for label, _ in found] == ["b", "a"]
        assert index.search([], 10) == [] and index.search(["tungsten"], 10) == []
    finally:
        index.close()


def fts5_stems(words: list[str]) -> dict[str, list[str]]:
    """Each word's tokens as FTS5's porter tokenizer indexes them."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE w USING fts5(t, tokenize='porter unicode61 "
               "remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
    db.executemany("INSERT INTO w(rowid, t) VALUES (?, ?)", enumerate(words, 1))
    out: dict[str, list[str]] = {w: [] for w in words}
    for term, doc in db.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
        out[words[doc - 1]].append(term)
    return out


def test_porter_stem_is_fts5s_own_over_the_models_vocabulary() -> None:
    """``porter_stem`` is FTS5's Porter, word for word: Porter's revised rules ("possibly" ->
    "possibl", "technology" -> "technolog", "trekked" -> "trek"), words under three letters
    left alone ("us"), over the bundled model's whole vocabulary and these."""
    from index.encode.embed import bundled_model_path

    vocabulary = (Path(bundled_model_path()) / "vocab.txt").read_text(encoding="utf-8").split()
    words = sorted({w for w in vocabulary if w.isalpha()} | {
        "possibly", "technologies", "trekked", "revving", "us", "is", "s", "bbbbb",
        "μακεδονες", "crème", "x" * 70, "assembly", "incredibly", "buzzed", "hopping"})
    expected = fts5_stems(words)
    wrong = {w: (porter_stem(w), expected[w]) for w in words if [porter_stem(w)] != expected[w]}
    assert len(words) > 20_000 and not wrong
