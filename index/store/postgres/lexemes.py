"""A paragraph's words as PostgreSQL full text holds them, with citebot's own stemming.

PostgreSQL's ``to_tsvector`` stems with its own dictionaries and ranks with ``ts_rank``, which
is not BM25. citebot writes the ``tsvector`` itself instead: the same Porter stems as the
embedded store's FTS5 table (``index.text.porter_stem``), the paragraph's words at weight D
and its article's title at weight A, so that a GIN index finds candidates by stem and SQL can
weigh term frequencies as FTS5 does (text 1, title 0.25, ``index.store.bm25.WEIGHTS``).
Lengths are counted as ``index.store.bm25`` counts them when FTS5's record is absent.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg

from index.store.bm25 import token_count
from index.store.fts5_chars import python_disagrees, runs
from index.store.fts5_chars import tokens as fts5_words
from index.text import plain, porter_stem

_MAX_POSITION = 16_383  # PostgreSQL's largest tsvector position
_MAX_POSITIONS = 256  # positions it keeps per lexeme
# Stems longer than this are not indexed lexically (dense search still finds their passage):
# PostgreSQL refuses a lexeme of 2,047 bytes or more, and a lexicon key of about 2,700.
MAX_STEM = 200  # characters: at most 800 bytes


def tokens(text: str) -> int:
    """A column's length in words, as ``index.store.bm25`` counts it."""
    return token_count(text)


def stems(text: str) -> list[str]:
    """The Porter stems of a text's words, in order."""
    return [porter_stem(w) for w in fts5_words(plain(text))]


def tsvector(text: str, title: str) -> str:
    """A ``tsvector`` literal: each stem with its positions, text at weight D, title at A."""
    places: dict[str, list[str]] = {}
    position = 0
    for weight, words in (("", stems(text)), ("A", stems(title))):
        for stem in words:
            position = min(position + 1, _MAX_POSITION)
            if not stem or len(stem) > MAX_STEM:  # "s" of "city's" finds nothing; see MAX_STEM
                continue
            held = places.setdefault(stem, [])
            if len(held) < _MAX_POSITIONS:
                held.append(f"{position}{weight}")
    return " ".join(f"{quote(stem)}:{','.join(at)}" for stem, at in places.items())


def quote(stem: str) -> str:
    """A lexeme quoted for a tsvector or tsquery literal."""
    return "'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"


# Postings: each paragraph's stems with their counts in the text and in the title, and the
# paragraph's length, read by stem (an index on collection and stem) so that ranking BM25
# candidates reads only the question's words' rows, not every matching paragraph's lexemes.
# Written from the stored lexemes themselves, so that the counts are the tsvector's.
POSTINGS = """
CREATE TABLE postings(
    collection text NOT NULL, term text NOT NULL, paragraph_id bigint NOT NULL,
    text_count integer NOT NULL, title_count integer NOT NULL, length integer NOT NULL,
    PRIMARY KEY(collection, term, paragraph_id) INCLUDE (text_count, title_count, length),
    FOREIGN KEY(collection, paragraph_id) REFERENCES paragraphs(collection, id)
        ON DELETE CASCADE);
CREATE INDEX postings_paragraph ON postings(collection, paragraph_id);
"""


def write_postings(db: psycopg.Connection, where: str = "true",
                   params: tuple[object, ...] = ()) -> None:
    """Write the postings of the paragraphs ``where`` selects (a condition on ``p``)."""
    db.execute(
        "INSERT INTO postings(collection, term, paragraph_id, text_count, title_count, length) "
        "SELECT p.collection, u.lexeme, p.id, count(*) FILTER (WHERE w <> 'A'), "
        "count(*) FILTER (WHERE w = 'A'), p.text_tokens + p.title_tokens "
        "FROM paragraphs p, unnest(p.lexemes) u, unnest(u.weights) w "
        f"WHERE {where} GROUP BY p.collection, p.id, u.lexeme", params)


def create_postings(db: psycopg.Connection) -> None:
    """The migration: the table, and the postings of every paragraph stored."""
    db.execute(POSTINGS)
    write_postings(db)


_WITH_TITLES = ("FROM paragraphs p JOIN articles a ON a.collection = p.collection AND "
                "a.id = p.article_id")  # each paragraph with its article's title


def restem(db: psycopg.Connection, batch: int = 1000, where: str = "true",
           params: Mapping[str, object] | None = None) -> None:
    """Write the lexemes and lengths of every paragraph (of those ``where`` selects, a
    condition on ``p`` and ``a``) again as this code stems and counts them, and count the
    lexicon and each collection's totals again from them (inside the caller's transaction): a
    migration, when the stems or tokens change. ``params`` are ``where``'s, by name."""
    chosen = f"{_WITH_TITLES} WHERE {where}"
    with db.cursor(name="restem") as rows:  # streamed: the table may be large
        rows.itersize = batch
        rows.execute(f"SELECT p.collection, p.id, p.text, a.title {chosen}", params)
        while chunk := rows.fetchmany(batch):
            with db.cursor() as write:
                write.executemany(
                    "UPDATE paragraphs SET lexemes = %s::tsvector, text_tokens = %s, "
                    "title_tokens = %s WHERE collection = %s AND id = %s",
                    [(tsvector(text, title), tokens(text), tokens(title), collection, pid)
                     for collection, pid, text, title in chunk])
    if db.execute("SELECT to_regclass('postings')").fetchone() != (None,):  # migration 6 done
        db.execute("CREATE TEMPORARY TABLE restemmed ON COMMIT DROP AS SELECT p.collection, "
                   f"p.id {chosen}", params)
        db.execute("DELETE FROM postings x USING restemmed r WHERE x.collection = "
                   "r.collection AND x.paragraph_id = r.id")
        write_postings(db, "(p.collection, p.id) IN (SELECT collection, id FROM restemmed)")
        db.execute("DROP TABLE restemmed")
    _recount(db)


# Combining accents (as ``index.text``'s marks): a paragraph holding one was stemmed and
# counted with the accent splitting its word before migration 7
COMBINING = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"


def restem_accented(db: psycopg.Connection) -> None:
    """The migration: stem again the paragraphs whose text or title holds a combining
    accent (nothing to do, and no recount, in a database without one)."""
    where = f"(p.text ~ '{COMBINING}' OR a.title ~ '{COMBINING}')"
    if db.execute(f"SELECT 1 {_WITH_TITLES} WHERE {where} LIMIT 1").fetchone():
        restem(db, where=where)


def restem_fts5_words(db: psycopg.Connection) -> None:
    """The migration: stem again the paragraphs whose text or title holds a character that
    FTS5 and Python's ``\\w`` read differently (an emoji newer than FTS5's Unicode tables, a
    private-use character: part of a word for FTS5; a few letters the reverse), which split
    or joined words before migration 8 (nothing to do in a database without one)."""
    differ = _differing_chars()
    if differ is None:
        return
    where = "(p.text ~ %(differ)s OR a.title ~ %(differ)s)"
    params = {"differ": differ}
    if db.execute(f"SELECT 1 {_WITH_TITLES} WHERE {where} LIMIT 1", params).fetchone():
        restem(db, where=where, params=params)


def _differing_chars() -> str | None:
    """A PostgreSQL regular expression for one character that FTS5 and Python's word class
    (the tokens before migration 8) classify differently; None if they classify alike."""
    spans = runs(python_disagrees())
    if not spans:
        return None
    return "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in spans) + "]"


def _recount(db: psycopg.Connection) -> None:
    """The lexicon and each collection's totals, counted again from the paragraphs."""
    db.execute("DELETE FROM lexicon")
    db.execute("INSERT INTO lexicon(collection, term, passages) SELECT p.collection, t, "
               "count(*) FROM paragraphs p, unnest(tsvector_to_array(p.lexemes)) t "
               "GROUP BY p.collection, t")
    db.execute("UPDATE collections c SET passages = coalesce(s.n, 0), text_tokens = "
               "coalesce(s.text, 0), title_tokens = coalesce(s.title, 0) FROM collections k "
               "LEFT JOIN (SELECT collection, count(*) n, sum(text_tokens) text, "
               "sum(title_tokens) title FROM paragraphs GROUP BY collection) s ON "
               "s.collection = k.collection WHERE c.collection = k.collection")
