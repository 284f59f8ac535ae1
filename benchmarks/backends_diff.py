"""Where the two storage backends part, question by question: prints, per storage call, how
many questions get a different result from the embedded store and from PostgreSQL holding the
same articles, with the first examples.

    .venv/bin/python benchmarks/backends_diff.py QUESTIONS.jsonl --data-dir DIR \\
        --database-url URL [--collection eval] [--pg-collection NAME] [--limit N]

Both stores must hold the file's articles in the named collections (``citebot eval`` leaves
them there: its collection, and ``NAME-without-tune`` / ``NAME-without-report``, compared too).
Paragraph ids differ between the stores, so paragraphs are matched by (article id, number).
Compared for every question: ``dense_search`` and ``lexical_search`` (candidates in order and
their scores), ``dense_scores`` of the union of both stores' candidates, and (with
``--answers``) the answer's first quote and its "found"; once per collection, ``passages``
(text, sentences, speakers, article metadata) of every paragraph. The storage protocol
(index/store/roles.py) says what each call must return, so any difference is a backend that
breaks it. Quality figures only: no timings.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from config.settings import Settings  # noqa: E402
from index.encode.embed import Embedder, load_embedder  # noqa: E402
from index.models import Passage  # noqa: E402
from index.store import Hit, Storage  # noqa: E402
from retrieval.core import Core  # noqa: E402
from retrieval.evaluation.scoring import articles_of, load_questions  # noqa: E402

Key = tuple[str, int]  # (article id, paragraph number): the same paragraph in either store
TOLERANCE = 1e-5  # float32 vectors: the same cosine to about six digits


@dataclass
class Side:
    """One store's view of a collection: paragraph ids by key and back, and its passages."""

    storage: Storage
    collection: str
    key_of: dict[int, Key] = field(default_factory=dict)
    id_of: dict[Key, int] = field(default_factory=dict)
    passages: dict[Key, Passage] = field(default_factory=dict)

    def load(self, query: np.ndarray) -> None:
        """Every paragraph of the collection, found through the storage protocol alone."""
        for article in self.storage.list_articles(self.collection, limit=-1):
            hits = self.storage.dense_search(self.collection, query, 1 << 20, article.id)
            for pid, passage in self.storage.passages(self.collection,
                                                      [h.paragraph for h in hits]).items():
                key = (passage.article.id, passage.number)
                self.key_of[pid], self.id_of[key] = key, pid
                self.passages[key] = passage

    def keyed(self, hits: list[Hit]) -> list[tuple[Key, float]]:
        return [(self.key_of.get(h.paragraph, ("?", h.paragraph)), h.score) for h in hits]


@dataclass
class Tally:
    """Questions whose result of one call differs, with the first examples."""

    name: str
    asked: int = 0
    differ: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, difference: str | None, question: str, limit: int) -> None:
        self.asked += 1
        if difference is None:
            return
        self.differ += 1
        if len(self.examples) < limit:
            self.examples.append(f"{question!r}: {difference}")


def compare_hits(a: list[tuple[Key, float]], b: list[tuple[Key, float]]) -> str | None:
    """None when both lists hold the same paragraphs in the same order with the same scores;
    else what differs first."""
    if [k for k, _ in a] != [k for k, _ in b]:
        only_a = [k for k, _ in a if k not in dict(b)]
        only_b = [k for k, _ in b if k not in dict(a)]
        pairs = enumerate(zip([*a, None], [*b, None], strict=False))
        first = next(i for i, (x, y) in pairs if x is None or y is None or x[0] != y[0])
        return (f"{len(a)} vs {len(b)} hits, first differing at rank {first + 1}; only "
                f"embedded {only_a[:3]}, only PostgreSQL {only_b[:3]}; embedded "
                f"{_show(a[first:first + 2])}, PostgreSQL {_show(b[first:first + 2])}")
    for (key, x), (_, y) in zip(a, b, strict=True):
        if abs(x - y) > TOLERANCE * max(1.0, abs(x)):
            return f"score of {key}: embedded {x:.6f}, PostgreSQL {y:.6f}"
    return None


def _show(hits: list[tuple[Key, float]]) -> str:
    return ", ".join(f"{k[0]}#{k[1]}={s:.5f}" for k, s in hits) or "-"


def compare_passage(a: Passage, b: Passage) -> str | None:
    """What differs between one paragraph as the two stores return it (ids and the time it
    was added aside)."""
    art_a, art_b = a.article, b.article
    fields = {"text": (a.text, b.text), "sentences": (a.sentences, b.sentences),
              **{name: (getattr(art_a, name), getattr(art_b, name)) for name in (
                  "title", "source", "url", "published", "author", "content_hash",
                  "paragraph_count")}}
    for name, (x, y) in fields.items():
        if x != y:
            return f"{name}: embedded {str(x)[:80]!r}, PostgreSQL {str(y)[:80]!r}"
    return None


def compare_collection(emb: Side, pg: Side, rows: list[dict[str, object]],
                       embedder: Embedder, candidates: int, examples: int,
                       answers: tuple[Core, Core] | None) -> list[Tally]:
    """Every storage call of every question on both sides; one tally per call."""
    probe = embedder.embed_query("probe")
    emb.load(probe)
    pg.load(probe)
    tallies = {n: Tally(n) for n in ("passages", "dense_search", "lexical_search",
                                     "dense_scores", "first quote", "found")}
    for key in sorted(emb.passages.keys() | pg.passages.keys()):
        a, b = emb.passages.get(key), pg.passages.get(key)
        diff = (f"only in {'embedded' if b is None else 'PostgreSQL'}" if a is None or b is None
                else compare_passage(a, b))
        tallies["passages"].add(diff, f"{key[0]}#{key[1]}", examples)
    for row in rows:
        text = str(row["question"])
        query = embedder.embed_query(text)
        found = []
        for side in (emb, pg):
            dense = side.storage.dense_search(side.collection, query, candidates)
            lexical = side.storage.lexical_search(side.collection, text, candidates,
                                                  also=[h.paragraph for h in dense])
            found.append((side.keyed(dense), side.keyed(lexical)))
        (dense_a, lex_a), (dense_b, lex_b) = found
        tallies["dense_search"].add(compare_hits(dense_a, dense_b), text, examples)
        tallies["lexical_search"].add(compare_hits(lex_a, lex_b), text, examples)
        union = sorted({k for hits in (dense_a, dense_b, lex_a, lex_b) for k, _ in hits
                        if k in emb.id_of and k in pg.id_of})
        scored = [_scores(side, union, query) for side in (emb, pg)]
        tallies["dense_scores"].add(compare_hits(*scored), text, examples)
        if answers is not None:
            got = [core.ask(side.collection, text)
                   for core, side in zip(answers, (emb, pg), strict=True)]
            quotes = [g.quotes[0].text if g.quotes else None for g in got]
            tallies["first quote"].add(None if quotes[0] == quotes[1] else
                                       f"embedded {quotes[0]!r}, PostgreSQL {quotes[1]!r}",
                                       text, examples)
            tallies["found"].add(None if got[0].found == got[1].found else
                                 f"embedded {got[0].found}, PostgreSQL {got[1].found}",
                                 text, examples)
    return [t for t in tallies.values() if t.asked]


def _scores(side: Side, keys: list[Key], query: np.ndarray) -> list[tuple[Key, float]]:
    scores = side.storage.dense_scores(side.collection, [side.id_of[k] for k in keys], query)
    return [(side.key_of[p], s) for p, s in sorted(scores.items(), key=lambda kv:
                                                   side.key_of[kv[0]])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True, help="the embedded store")
    ap.add_argument("--database-url", required=True, help="the PostgreSQL store")
    ap.add_argument("--collection", default="eval", help="in the embedded store")
    ap.add_argument("--pg-collection", help="in PostgreSQL (default: --collection)")
    ap.add_argument("--limit", type=int, help="only the first N questions")
    ap.add_argument("--candidates", type=int, default=30, help="k of each search (the "
                    "searcher's)")
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--answers", action="store_true", help="compare the answers too")
    args = ap.parse_args(argv)
    rows, _ = load_questions(args.questions)
    rows = rows[: args.limit]
    base = Settings(data_dir=args.data_dir)
    embedder = load_embedder(base.model, batch_size=base.embed_batch_size,
                             encoder=base.encoder, cache_dir=base.model_cache)
    pg_settings = base.model_copy(update={"database_url": SecretStr(args.database_url)})
    with Core.open(base, embedder=embedder) as emb_core, \
            Core.open(pg_settings, embedder=embedder) as pg_core:
        print(f"{args.questions.name}: {len(rows)} questions, {len(articles_of(rows))} "
              f"articles, {args.candidates} candidates a search")
        for suffix in ("", "-without-tune", "-without-report"):
            emb = Side(emb_core.storage, args.collection + suffix)
            pg = Side(pg_core.storage, (args.pg_collection or args.collection) + suffix)
            if emb.collection not in emb_core.storage.collections():
                continue
            tallies = compare_collection(emb, pg, rows, embedder, args.candidates,
                                         args.examples,
                                         (emb_core, pg_core) if args.answers else None)
            print(f"\n[{emb.collection} / {pg.collection}] {len(emb.passages)} / "
                  f"{len(pg.passages)} paragraphs")
            for t in tallies:
                print(f"  {t.name:15} differs for {t.differ} of {t.asked}")
                for example in t.examples:
                    print(f"      {example}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
