"""The reader's part of answering: it re-orders the sentences it reads, leaves the rest below
them in the linear order, changes the passage shown first, and is named where answers are
measured; with it off, answering is the linear ranking's alone."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from index.encode.reader import MODEL_FILE, Reader, linear_weight, reader_pair
from index.errors import MissingDependencyError
from retrieval.answer import Answerer
from retrieval.core import READER_KEY, Core, load_reader, note_reader
from retrieval.question import analyse
from retrieval.rank import SentenceRanker
from retrieval.reading import ReadingRanker, pair
from tests.conftest import Cli
from tests.fakes import HashEmbedder
from tests.test_answer import load


class KeywordReader:
    """A reader that believes only sentences holding ``word`` answer."""

    name = "keyword-reader"

    def __init__(self, word: str, linear_weight: float = 0.0) -> None:
        self.word = word
        self.linear_weight = linear_weight
        self.read: list[tuple[str, str]] = []

    def score(self, pairs: list[tuple[str, str]], batch: int = 1) -> np.ndarray:
        self.read += pairs
        return np.array([10.0 if self.word in b.split(" | ")[0] else 0.0 for _, b in pairs])


def answerer(core: Core, reader: KeywordReader | None) -> Answerer:
    return Answerer(options=core.answerer.options, storage=core.storage,
                    embedder=core.embedder, reader=reader)


def test_the_reader_chooses_the_first_quote_among_those_it_reads(hash_core: Core) -> None:
    load(hash_core)
    question = "What did Ortiz say about the barrier?"
    linear = answerer(hash_core, None).ask("default", question)
    assert "grant" not in linear.quotes[0].text
    reader = KeywordReader("grant")
    read = answerer(hash_core, reader).ask("default", question)
    assert "federal grant" in read.quotes[0].text
    assert read.passages[0].passage.number == 3  # the quoted passage is shown first
    assert 0 < len(reader.read) <= 8
    assert reader.read[0][0] == question


def test_unread_sentences_stay_below_those_read_in_their_linear_order(hash_core: Core) -> None:
    load(hash_core)
    info = analyse("Who voted against the flood barrier?")
    ranked = answerer(hash_core, None).ask("default", info.text).passages
    linear = SentenceRanker().score(info, list(ranked))
    scored = ReadingRanker(KeywordReader("Hale", linear_weight=0.5), read=2).score(
        info, list(ranked))
    assert len(scored) == len(linear) > 2
    assert [s for s, _, _ in scored] == sorted((s for s, _, _ in scored), reverse=True)
    assert {(id(r), i) for _, r, i in scored[:2]} == {(id(r), i) for _, r, i in linear[:2]}
    assert [(id(r), i) for _, r, i in scored[2:]] == [(id(r), i) for _, r, i in linear[2:]]


def test_the_reader_reads_the_sentence_with_its_title_and_neighbours(hash_core: Core) -> None:
    load(hash_core)
    info = analyse("Who pays for the barrier?")
    ranked = answerer(hash_core, None).ask("default", info.text).passages
    p = next(r for r in ranked if len(r.passage.sentences) == 2)
    sentences = [p.passage.text[s.start:s.end] for s in p.passage.sentences]
    title = p.passage.article.title
    assert pair(info, p, 0) == reader_pair(info.text, title, "", sentences[0], sentences[1])
    assert pair(info, p, 1) == reader_pair(info.text, title, sentences[0], sentences[1], "")
    assert pair(info, p, 1)[1] == f"{sentences[1]} | {title} | {sentences[0]}"


@pytest.mark.skipif(not MODEL_FILE.exists(), reason="no reader's weights are exported here")
def test_exported_weights_load_offline_and_score_each_pair_alike_in_any_batch() -> None:
    reader = Reader()
    assert reader.name.startswith("citebot-reader-") and len(reader.name) == 31
    assert reader.linear_weight == linear_weight(MODEL_FILE)
    q = "What is the Lakeside robot called?"
    title = "Lakeside High robotics team wins national title with a wall-climbing robot"
    pairs = [reader_pair(q, title, "", "The robot, nicknamed Gecko, beat 64 other teams.", ""),
             reader_pair(q, title, "", "Share this article", "")]
    together = reader.score(pairs)
    alone = np.concatenate([reader.score(pairs[:1]), reader.score(pairs[1:])])
    assert together.shape == (2,) and np.isfinite(together).all()
    assert np.allclose(together, alone, atol=1e-3)


def test_the_reader_on_without_its_weights_is_refused_with_what_to_do(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    monkeypatch.setattr("index.encode.reader.MODEL_FILE", tmp_path / "none" / "reader.onnx")
    load_reader.cache_clear()
    with pytest.raises(MissingDependencyError, match="CITEBOT_READER=false"):
        Core.open(settings.model_copy(update={"reader": True}), embedder=HashEmbedder())
    monkeypatch.setenv("CITEBOT_READER", "true")
    code, out, err = cli("ask", "Who paid for the barrier?")
    assert code != 0 and not out
    assert "reader's weights are not installed" in err and "CITEBOT_READER=false" in err
    assert "Traceback" not in err
    load_reader.cache_clear()


def test_the_reader_is_named_in_stats_and_a_change_is_logged(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    core = Core.open(settings.model_copy(update={"reader": False}), embedder=HashEmbedder())
    try:
        assert core.reader_name() is None
        assert core.answerer.reader is None
        note_reader(core.storage, "citebot-reader-0000")
        assert core.storage.meta_get(READER_KEY) == "citebot-reader-0000"
        with caplog.at_level(logging.WARNING, logger="retrieval.core"):
            note_reader(core.storage, "citebot-reader-0000")
            assert not caplog.records
            note_reader(core.storage, "citebot-reader-1111")
        assert "citebot-reader-0000" in caplog.text and "citebot-reader-1111" in caplog.text
        assert core.storage.meta_get(READER_KEY) == "citebot-reader-1111"
    finally:
        core.close()
