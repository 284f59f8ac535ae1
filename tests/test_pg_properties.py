"""Arbitrary Unicode in every field of an article, on both backends: lone surrogates, NUL,
bidi controls, 4-byte letters, quotes and backslashes in the title, text, url, source, author,
published date, collection name and conversation id. Each example ends in a clear refusal (a
CitebotError that is not a storage failure) or in the same stored text on both backends, and
never in a traceback or half an article.

Seeded like tests/test_properties.py (``CITEBOT_TEST_SEED``, ``CITEBOT_TEST_SCALE``)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from config.settings import Settings
from index.errors import CitebotError, StorageError
from retrieval.core import Core
from tests.fakes import HashEmbedder
from tests.postgres import PostgresServer

SEED = int(os.environ.get("CITEBOT_TEST_SEED", "20240611"))
SCALE = float(os.environ.get("CITEBOT_TEST_SCALE", "1"))
ODD = ["\x00", "\udc80", "\ud83d", "\udfff", "\u202e", "\u2066", "\u200f", "\ufeff", "𝔘",
       "😀", "\U0010ffff", "'", "\\", "%s", "%(x)s", "\n", "\r\n", "\t", "ferry ", "harbour. ",
       "Ж" * 300, "x" * 3_000]
piece = st.one_of(st.text(max_size=12), st.sampled_from(ODD))
field = st.lists(piece, max_size=6).map("".join)
long_field = st.one_of(field, st.text(min_size=100, max_size=400))
names = itertools.count()


def record() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({
        "title": field, "text": st.lists(piece, min_size=1, max_size=30).map("".join),
        "url": st.one_of(st.none(), field.map(lambda f: "https://example.com/" + f), field),
        "source": st.one_of(st.none(), long_field), "author": st.one_of(st.none(), field),
        "published": st.one_of(st.none(), field)})


@pytest.fixture
def cores(settings: Settings, postgres_server: PostgresServer) -> Iterator[dict[str, Core]]:
    pg = settings.model_copy(update={
        "database_url": SecretStr(postgres_server.new_database()),
        "data_dir": settings.data_dir / "pg"})
    opened = {"embedded": Core.open(settings, embedder=HashEmbedder()),
              "postgres": Core.open(pg, embedder=HashEmbedder())}
    yield opened
    for core in opened.values():
        core.close()


def outcome(core: Core, collection: str, line: str, conversation: str) -> tuple[object, ...]:
    """What a person can observe of one add and one follow-up question: the refusal's words,
    or the article's stored fields and passages; and the stored state of the collection."""
    try:
        (item,) = list(core.add_jsonl(collection, [line]))
        added: object = item.error if item.result is None else _stored(core, collection,
                                                                       item.result.article.id)
    except CitebotError as exc:
        assert not isinstance(exc, StorageError), exc
        added = str(exc)
    try:
        answer = core.ask(collection, "What about the ferry?", conversation=conversation)
        asked: object = [q.text for q in answer.quotes]
    except CitebotError as exc:
        assert not isinstance(exc, StorageError), exc
        asked = str(exc)
    return added, asked, _everything(core, collection)


def _stored(core: Core, collection: str, article_id: str) -> tuple[object, ...]:
    a = core.article(collection, article_id)
    return a.title, a.url, a.source, a.author, a.published, a.paragraph_count


def _everything(core: Core, collection: str) -> tuple[object, ...]:
    """Articles, and every stored passage's text: an article is whole or absent."""
    try:
        articles = core.articles(collection)
    except CitebotError as exc:
        assert not isinstance(exc, StorageError), exc
        return (str(exc),)
    hits = core.storage.dense_search(collection, core.embedder.embed_query("ferry"), 1000)
    passages = core.storage.passages(collection, [p for p, _ in hits])
    texts = sorted(p.text for p in passages.values())
    assert len(texts) == sum(a.paragraph_count for a in articles)  # nothing stored half
    assert "\x00" not in "".join(texts)
    return tuple(sorted((a.id, a.title) for a in articles)), tuple(texts)


@settings(max_examples=max(1, int(25 * SCALE)), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@seed(SEED)
@given(article=record(), collection=long_field, conversation=long_field)
def test_any_unicode_in_any_field_is_refused_clearly_or_stored_alike(
        cores: dict[str, Core], article: dict[str, object], collection: str,
        conversation: str) -> None:
    collection = f"{next(names)}{collection}"  # examples do not meet
    line = json.dumps(article)  # JSON escapes a lone surrogate as \\udc80, as a file may
    seen = {name: outcome(core, collection, line, conversation) for name, core in cores.items()}
    assert seen["embedded"] == seen["postgres"]
