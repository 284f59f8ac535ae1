"""What must hold in a PostgreSQL store after anything (crash, concurrency): the counts BM25
reads agree with the rows, every paragraph has live vectors, no staged rows are searched."""

from __future__ import annotations

import psycopg


def pg_problems(url: str, *, allow_staged: bool = False) -> list[str]:
    """Everything that breaks the invariants, per collection; [] when consistent."""
    found: list[str] = []
    with psycopg.connect(url) as db:
        for (collection,) in db.execute("SELECT collection FROM collections ORDER BY 1"):
            found += [f"{collection}: {p}" for p in _problems(db, collection, allow_staged)]
    return found


def _problems(db: psycopg.Connection, collection: str, allow_staged: bool) -> list[str]:
    found = []
    kept = db.execute("SELECT passages, text_tokens, title_tokens FROM collections WHERE "
                      "collection = %s", (collection,)).fetchone()
    real = db.execute("SELECT count(*), coalesce(sum(text_tokens), 0), "
                      "coalesce(sum(title_tokens), 0) FROM paragraphs WHERE collection = %s",
                      (collection,)).fetchone()
    if tuple(kept or ()) != tuple(real or ()):
        found.append(f"collection totals {kept} but the paragraphs add up to {real}")
    lexicon = dict(db.execute("SELECT term, passages FROM lexicon WHERE collection = %s AND "
                              "passages <> 0", (collection,)).fetchall())
    counted = dict(db.execute(
        "SELECT t, count(*) FROM paragraphs p, unnest(tsvector_to_array(p.lexemes)) t "
        "WHERE p.collection = %s GROUP BY t", (collection,)).fetchall())
    if lexicon != counted:
        wrong = sorted(t for t in set(lexicon) | set(counted) if lexicon.get(t) != counted.get(t))
        found.append(f"lexicon differs from the paragraphs on {len(wrong)} terms: {wrong[:5]}")
    bare = db.execute("SELECT count(*) FROM paragraphs p WHERE p.collection = %s AND NOT EXISTS "
                      "(SELECT 1 FROM chunks c WHERE c.collection = p.collection AND "
                      "c.paragraph_id = p.id AND c.live)", (collection,)).fetchone()
    if bare and bare[0]:
        found.append(f"{bare[0]} paragraphs without live vectors")
    short = db.execute("SELECT count(*) FROM articles a WHERE a.collection = %s AND "
                       "a.paragraph_count <> (SELECT count(*) FROM paragraphs p WHERE "
                       "p.collection = a.collection AND p.article_id = a.id)",
                       (collection,)).fetchone()
    if short and short[0]:
        found.append(f"{short[0]} articles without all their paragraphs")
    staged = db.execute("SELECT count(*) FROM chunks WHERE collection = %s AND NOT live",
                        (collection,)).fetchone()
    if staged and staged[0] and not allow_staged:
        found.append(f"{staged[0]} staged rows")
    return found
