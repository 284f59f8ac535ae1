"""Property-based tests of the text pipeline, quote selection and answering, on hostile text.

Inputs mix ordinary news words with arbitrary Unicode, right-to-left scripts, zero-width and
bidi controls, NUL bytes, lone surrogates (what ``errors="surrogateescape"`` and JSON ``\\udc80``
escapes produce), CR/CRLF line endings, tabs, emoji, Markdown and Discord mention syntax, giant
paragraphs, runs without whitespace or punctuation, and runs of punctuation only.

Runs are reproducible: every property uses the seed ``CITEBOT_TEST_SEED`` (a fixed default
otherwise), printed at the end of the module with how many examples each property ran.
``CITEBOT_TEST_SCALE=20`` runs twenty times as many examples, for a longer hunt.
"""

from __future__ import annotations

import gc
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from bot.discord import render
from index.errors import ExtractionError
from index.ingest.clean import clean_paragraphs, is_boilerplate
from index.ingest.prepare import canonical_url, prepare, storable
from index.ingest.segment import sentence_spans, windows
from index.ingest.speakers import attribute
from index.models import Article, Passage, PreparedArticle, Sentence
from index.text import fold, name_keys, split_paragraphs
from retrieval.answer import MAX_QUESTION_CHARS
from retrieval.core import Core
from retrieval.models import RankedPassage
from retrieval.question import analyse
from retrieval.quotes import QuoteSelector, make_quote, verify
from tests.fakes import HashEmbedder

SEED = int(os.environ.get("CITEBOT_TEST_SEED", "20240611"))
SCALE = float(os.environ.get("CITEBOT_TEST_SCALE", "1"))  # more examples for a longer hunt
STATS: Counter[str] = Counter()  # examples (and checks) per property, printed at the end


def configured(examples: int) -> Callable[[Any], Any]:
    """The seed and budget every property uses (the module runs in well under a minute)."""

    def wrap(test: Any) -> Any:
        test = settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                        database=None, print_blob=True,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.data_too_large])(test)
        return seed(SEED)(test)

    return wrap


@pytest.fixture(scope="module", autouse=True)
def _print_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(f"properties: seed {SEED} (set CITEBOT_TEST_SEED to change it)")
        for name, count in sorted(STATS.items()):
            reporter.write_line(f"property: {name}: {count}")


# -- inputs ----------------------------------------------------------------------------------

ODD = ["\x00", "\t", "\r", "\r\n", "\n", "\n\n", "\n \t\n", "\x0b", "\x0c", "\x1c", "\x85",
       "\u2028", "\u2029", "\u00a0", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
       "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u0301", "\udc80", "\udcff",
       "\ud800", "\udfff", "\ud83d"]
RTL = ["שלום", "אמר", "עולם", "مرحبا", "قال", "الوزير", "؟", "۔", "،", "\u202bמשפט\u202c"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "🔥🔥🔥"]
WORDS = ["said", "says", "told", "added", "according to", "Mr.", "Dr.", "U.S.", "Jan.", "D.C.",
         "Pompeo", "Kim Jong Un", "Secretary of State Mike Pompeo", "The spokesman",
         "the official", "he", "She", "they", "also", "that", "on Monday", "a", "the", "bridge",
         "tolls", "de", "van", "Related news", "Advertisement", "Share this", "Read more",
         "©", "1,200", "3.5%", "$12 million", "e.g.", "i.e.", "No.", "St.", "Inc."]
PUNCT = [*'.!?,;:"\'“”«»‘’()[]{}—–-…*_`~#>@</\\|', "...", "?!", '."', ".”", "\"'", "'\""]
MARKUP = ["@everyone", "@here", "<@123>", "<@!123>", "<@&456>", "<#789>", "</ask:1>", "**",
          "__", "`", "```", "||spoiler||", "[x](https://example.com)", "> ", "# ", "- ",
          "discord.gg/abc", "https://discord.com/invite/abc"]
SEPARATORS = [" ", " ", " ", "", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", "\t", "  "]

token = st.one_of(
    st.sampled_from(WORDS), st.sampled_from(WORDS), st.sampled_from(WORDS),
    st.sampled_from(WORDS), st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    st.sampled_from(PUNCT),
    st.sampled_from(ODD), st.sampled_from(RTL), st.sampled_from(EMOJI), st.sampled_from(MARKUP),
    st.text(st.characters(codec=None, categories=None), max_size=6),
    st.text(alphabet="abcXYZ-'", min_size=60, max_size=400),  # a very long word
)


def texts(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """Text of hostile and ordinary tokens with odd separators (and ``min_size`` tokens)."""
    parts = st.lists(st.tuples(token, st.sampled_from(SEPARATORS)), min_size=min_size,
                     max_size=max_size)
    return parts.map(lambda ps: "".join(t + s for t, s in ps))


text = texts()


@st.composite
def giant(draw: st.DrawFn) -> str:
    """A 20k-120k character text: a unit repeated, or a run with no whitespace at all."""
    size = draw(st.integers(20_000, 120_000))
    unit = draw(st.one_of(
        st.sampled_from(["word ", "a", "Abc ", ".", "!?", ", ", '" ', "The ", "A.", "x\n",
                         "Mr. ", "U.S. ", "\u200b", "ש", "😀", "\t", "said ", ", he said, "]),
        texts(min_size=1, max_size=20)))
    return (unit * (size // len(unit) + 1))[:size]


@st.composite
def many_paragraphs(draw: st.DrawFn) -> list[str]:
    """Thousands of distinct paragraphs, sharing phrases with each other, some repeated."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    vocabulary = [f"w{i}" for i in range(draw(st.sampled_from([8, 30, 200, 50_000])))]
    count = draw(st.integers(5_000, 20_000))
    paragraphs = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 30))) + "."
                  for _ in range(count)]
    return paragraphs + rng.choices(paragraphs, k=count // 10)


sentence = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(st.one_of(st.sampled_from(WORDS), st.from_regex(r"[A-Za-z]{2,10}", fullmatch=True)),
             min_size=3, max_size=25),
    st.sampled_from([".", ".", "?", "!", '."', ",” he said.", "", "…"]))
paragraph = st.one_of(st.lists(sentence, min_size=1, max_size=4).map(" ".join), texts(0, 20))
articles = st.builds(lambda ps, sep: sep.join(ps), st.lists(paragraph, min_size=1, max_size=6),
                     st.sampled_from(["\n\n", "\r\n\r\n", "\n", "\r", "\n \t\n"]))

questions = st.one_of(
    st.just(""), st.just(" \n\t "), text,
    st.sampled_from(EMOJI).map(lambda e: e * 50),
    st.builds(lambda unit, n: (unit * n)[:10_000], texts(min_size=1, max_size=20),
              st.integers(1, 10_000)),
    st.builds(" ".join, st.lists(st.sampled_from(MARKUP + WORDS), min_size=1, max_size=20)),
)


def lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def surrogates(text: str) -> bool:
    return bool(re.search("[\ud800-\udfff]", text))


def check_spans(paragraph: str, spans: list[tuple[int, int]]) -> None:
    """Ordered, non-overlapping, non-empty, stripped slices covering every visible character."""
    previous = 0
    covered = bytearray(len(paragraph))
    for start, end in spans:
        assert previous <= start < end <= len(paragraph), (spans, len(paragraph))
        piece = paragraph[start:end]
        assert piece == piece.strip() and piece
        covered[start:end] = b"\x01" * (end - start)
        previous = end
    missed = [i for i, ch in enumerate(paragraph) if not covered[i] and not ch.isspace()]
    assert not missed, f"characters outside every sentence at {missed[:5]}"


def linear(fn: Callable[[Any], Any], data: Any, *, factor: float = 8.0) -> Any:
    """fn(data), failing unless it took at most ``factor`` times fn on a quarter of ``data``
    (linear time gives 4x, quadratic 16x). Both are timed side by side, three times,
    interleaved, in CPU time of this process with the garbage collector paused, and the best
    of each compared, so other processes on a loaded machine do not decide; no absolute time
    is asserted. No collection is forced before a timing: late in the suite a full collection
    walks every object the earlier tests left, which took longer than the calls timed; the
    pause alone keeps the collector out of the timed call."""
    part = data[: len(data) // 4]
    t_part = t_whole = float("inf")
    result = None
    for _ in range(3):
        t_part = min(t_part, _cpu_seconds(lambda: fn(part))[0])
        seconds, result = _cpu_seconds(lambda: fn(data))
        t_whole = min(t_whole, seconds)
        if t_whole < factor * t_part + 0.25:
            break
    assert t_whole < factor * t_part + 0.25, (
        f"{t_whole:.2f}s for {len(data):,} against {t_part:.2f}s for a quarter")
    return result


def _cpu_seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.disable()
    try:
        t0 = time.process_time()
        result = fn()
        return time.process_time() - t0, result
    finally:
        gc.enable()


def words(s: str) -> int:
    return len(s.split())


# -- cleaning and splitting ------------------------------------------------------------------


@configured(300)
@given(text)
def test_split_paragraphs_keeps_every_visible_character_in_stripped_pieces(raw: str) -> None:
    STATS["split_paragraphs: pieces of the input, nothing lost"] += 1
    got = split_paragraphs(raw)
    for piece in got:
        assert piece and piece == piece.strip()
        assert piece in lines(raw)  # line endings are normalised to "\n", nothing else changes
    visible = [ch for ch in lines(raw) if not ch.isspace()]
    assert [ch for p in got for ch in p if not ch.isspace()] == visible


@configured(300)
@given(st.one_of(st.none(), text), st.lists(st.one_of(text, st.sampled_from(WORDS)), max_size=12))
def test_clean_paragraphs_only_drops_whole_paragraphs_and_is_idempotent(
    title: str | None, paragraphs: list[str]
) -> None:
    STATS["clean_paragraphs: unaltered, in order, idempotent"] += 1
    cleaned = clean_paragraphs(title, paragraphs)
    stripped = [p.strip() for p in paragraphs]
    rest = iter(stripped)
    assert all(any(k == p for p in rest) for k in cleaned.paragraphs)  # an ordered subsequence
    assert len(cleaned.paragraphs) + len(cleaned.dropped) == sum(1 for p in stripped if p)
    assert {d.reason for d in cleaned.dropped} <= {
        "title", "duplicate", "near-duplicate", "boilerplate", "empty"}
    assert clean_paragraphs(title, list(cleaned.paragraphs)).paragraphs == cleaned.paragraphs
    for kept in cleaned.paragraphs:
        assert fold(kept) and not is_boilerplate(kept)


def reference_near_duplicates(paragraphs: list[str]) -> tuple[str, ...]:
    """The pairwise definition: a paragraph is a near duplicate when 80% of its word triples
    are in one earlier kept paragraph."""
    kept: list[str] = []
    grams: list[set[tuple[str, ...]]] = []
    for p in paragraphs:
        w = fold(p).split()
        g = {tuple(w[i:i + 3]) for i in range(len(w) - 2)} if len(w) >= 8 else set()
        if g and any(len(g & h) / len(g) >= 0.8 for h in grams):
            continue
        if g:
            grams.append(g)
        kept.append(p)
    return tuple(kept)


@configured(200)
@given(st.lists(st.lists(st.sampled_from("ab cd ef gh ij".split()), min_size=6, max_size=16)
                .map(" ".join), max_size=40, unique=True))
def test_near_duplicates_match_the_pairwise_definition(paragraphs: list[str]) -> None:
    STATS["clean_paragraphs: near duplicates as defined pairwise"] += 1
    assert clean_paragraphs(None, paragraphs).paragraphs == reference_near_duplicates(paragraphs)


@configured(300)
@given(text)
@example("Advertisement" + " ." * 120)  # the pattern matches; only the length rule keeps it
def test_is_boilerplate_ignores_surrounding_space_and_long_paragraphs(paragraph: str) -> None:
    STATS["is_boilerplate: whole short paragraphs only"] += 1
    verdict = is_boilerplate(paragraph)
    assert verdict == is_boilerplate(f" \t{paragraph}\n ")
    if verdict:
        assert len(paragraph.strip()) <= 200


# -- sentences, windows, speakers ------------------------------------------------------------


@configured(300)
@given(text)
def test_sentence_spans_are_ordered_stripped_and_cover_the_paragraph(paragraph: str) -> None:
    STATS["sentence_spans: ordered, stripped, covering"] += 1
    check_spans(paragraph, sentence_spans(paragraph))


def check_giant(paragraph: str) -> None:
    spans = linear(sentence_spans, paragraph)
    check_spans(paragraph, spans)

    def attributed(text: str) -> object:
        return attribute([text[s:e] for s, e in sentence_spans(text)])

    linear(attributed, paragraph)
    linear(lambda text: attribute([text]), paragraph)  # one 100k-character "sentence"
    wins = linear(lambda text: windows(text, sentence_spans(text), words, 64), paragraph)
    assert all(words(paragraph[s:e]) <= 64 for s, e in wins)


@pytest.mark.parametrize("unit", [
    "word ", "a", ".", "!?", ", ", '" ', "A.", "x\n", "a. ", "1. ", "Mr. ", "U.S. ", "The ",
    "\u200b", "ש ", "😀", "\t", ", he said, ", "Abc Def said ", "\udcff",
])
def test_giant_paragraphs_are_segmented_and_attributed_in_linear_time(unit: str) -> None:
    STATS["giant paragraphs: known shapes (30k characters)"] += 1
    check_giant((unit * (30_000 // len(unit) + 1))[:30_000])


@configured(6)
@given(giant())
def test_giant_random_paragraphs_are_segmented_and_attributed_in_linear_time(
    paragraph: str,
) -> None:
    STATS["giant paragraphs: random (20k-120k characters)"] += 1
    check_giant(paragraph)


@configured(4)
@given(many_paragraphs())
def test_cleaning_thousands_of_paragraphs_takes_linear_time(paragraphs: list[str]) -> None:
    STATS["many paragraphs: split + clean in linear time"] += 1
    cleaned = linear(lambda ps: clean_paragraphs("Title", split_paragraphs("\n\n".join(ps))),
                     paragraphs)
    assert len(cleaned.paragraphs) > len(paragraphs) // 2


@configured(300)
@given(text, st.integers(1, 40))
def test_windows_cover_every_sentence_within_the_token_limit(paragraph: str, limit: int) -> None:
    STATS["windows: cover every sentence, within the limit"] += 1
    paragraph = paragraph.strip()
    spans = sentence_spans(paragraph)
    wins = windows(paragraph, spans, words, limit)
    covered = bytearray(len(paragraph))
    previous = 0
    for start, end in wins:
        assert previous <= start < end <= len(paragraph)
        assert words(paragraph[start:end]) <= limit  # every whitespace word is one token
        covered[start:end] = b"\x01" * (end - start)
        previous = start
    for s, e in spans:
        assert all(covered[i] or paragraph[i].isspace() for i in range(s, e))


@configured(300)
@given(st.lists(text, max_size=8), st.one_of(st.none(), st.sampled_from(WORDS), text))
@example(["he said "], "")  # a blank previous speaker once came back as the speaker
def test_attribute_names_one_speaker_per_sentence_from_the_text(
    sentences: list[str], previous: str | None
) -> None:
    STATS["attribute: one entry per sentence, speakers from the text"] += 1
    speakers = attribute(sentences, previous)
    assert len(speakers) == len(sentences)
    sources = [*sentences, previous or ""]
    for who in speakers:
        if who is None:
            continue
        assert who and who == who.strip()
        assert all(any(w in s for s in sources) for w in who.split()), who
        assert name_keys(who) <= set(re.findall(r"[\w'’-]+", who.lower()))


# -- the whole pipeline and quotes -----------------------------------------------------------

EMBEDDER = HashEmbedder()


URL_PARTS = ["http://", "https://", "HTTPS://", "ftp://", "//", "[", "]", "::1", "Example.COM",
             "exa\uff03mple.com", "a\u2100.com", "xn--bcher-kva.example", ":8080", ":99999999",
             "/", "/a/b/", "?", "&", "=", "utm_source=x", "fbclid=1", "12345", "%zz", "%2F",
             "#frag", "@", "\x00", "\udcff", " ", "\t", "\n", "ü", "😀"]
urls = st.one_of(
    st.none(), text,
    st.lists(st.sampled_from(URL_PARTS), max_size=10).map("".join),
    st.builds("https://{}.example/{}?{}".format, st.from_regex(r"[a-z]{1,8}", fullmatch=True),
              text, text),
)


def prepared_or_none(title: str, body: str, max_tokens: int = 64,
                     url: str | None = None) -> PreparedArticle | None:
    """prepare(), which may refuse an article only with ExtractionError."""
    try:
        return prepare(title=title, text=body, count_tokens=EMBEDDER.count_tokens,
                       max_tokens=max_tokens, url=url, author=title, source=title,
                       published=url)
    except ExtractionError:
        STATS["prepare: refused with ExtractionError"] += 1
        return None


def check_prepared(article: PreparedArticle, body: str) -> None:
    assert article.title and not surrogates(article.title)
    for value in (article.url, article.canonical_url, article.source, article.author):
        assert value is None or not surrogates(value)
    source = lines(storable(body))  # lone surrogates replaced, NUL removed
    for paragraph in article.paragraphs:
        assert paragraph.text == paragraph.text.strip() and paragraph.text in source
        assert not surrogates(paragraph.text)
        check_spans(paragraph.text, [(s.start, s.end) for s in paragraph.sentences])
        assert paragraph.sentences
    covered: set[int] = set()
    for chunk in article.chunks:
        text = article.paragraphs[chunk.paragraph].text
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert chunk.text.endswith(text[chunk.start:chunk.end])
        covered.add(chunk.paragraph)
    assert covered == set(range(len(article.paragraphs)))


@configured(300)
@given(text, text, st.integers(16, 128), urls)
@example("Bridge \udc80", "It opened \udcff on Monday.", 64, "https://news.example/\udcff")
@example("Bridge", "It opened on Monday.", 64, "http://[")  # urlsplit's ValueError
def test_prepare_raises_only_extraction_errors_and_keeps_spans_inside(
    title: str, body: str, max_tokens: int, url: str | None
) -> None:
    STATS["prepare: only ExtractionError, spans inside paragraphs"] += 1
    article = prepared_or_none(title, body, max_tokens, url)
    if article is not None:
        check_prepared(article, body)


@configured(300)
@given(urls, st.sampled_from(["a", "12345", "id=1", "id=2", "p=", "q=a+b"]))
def test_canonical_urls_never_raise_are_stable_and_keep_what_names_the_page(
    url: str | None, query: str
) -> None:
    STATS["canonical_url: never raises, idempotent, distinct queries"] += 1
    canonical = canonical_url(url)
    assert (canonical is None) == (not (url or "").strip())
    if not re.search(r"\s", url or ""):  # (whitespace is no part of a real URL)
        assert canonical_url(canonical) == canonical
    page = "https://news.example/story"
    assert canonical_url(f"{page}?{query}") != canonical_url(f"{page}?other")
    assert canonical_url(f"{page}?{query}&utm_source=x#top") == canonical_url(f"{page}?{query}")


def passages_of(article: PreparedArticle) -> list[Passage]:
    meta = Article("a1", "c", article.title, None, None, None, None, article.content_hash,
                   len(article.paragraphs), "2024-01-01T00:00:00Z")
    return [Passage(i, meta, i, p.text, p.sentences)
            for i, p in enumerate(article.paragraphs, 1)]


@configured(300)
@given(text, questions, st.data())
def test_selected_quotes_are_verbatim_spans_of_their_passage(
    body: str, question: str, data: st.DataObject
) -> None:
    STATS["QuoteSelector: quotes verbatim"] += 1
    article = prepared_or_none("Title", body)
    if article is None:
        return
    passages = passages_of(article)
    scores = data.draw(st.lists(st.floats(0, 1), min_size=len(passages), max_size=len(passages)))
    ranked = [RankedPassage(p, s, s, s) for p, s in zip(passages, scores, strict=True)]
    ranked.sort(key=lambda r: -r.score)
    asked = analyse(question[:MAX_QUESTION_CHARS])
    quotes = QuoteSelector().select(asked, ranked)
    by_number = {p.number: p for p in passages}
    for q in quotes:
        passage = by_number[q.citation.paragraph]
        assert passage.text[q.start:q.end] == q.text and q.text.strip()
        STATS["QuoteSelector: quotes verbatim (quotes checked)"] += 1
    for passage in passages:
        for i in range(len(passage.sentences)):
            quote = make_quote(passage, i, 1.0)
            assert quote is not None and verify(quote, passage)
            assert not verify(replace(quote, text=quote.text + "x"), passage)
            assert not verify(replace(quote, start=quote.start + 1), passage)


# -- end to end over the real storage --------------------------------------------------------

_MENTION = re.compile(r"@(?:everyone|here)|<[@#/]")


def check_rendered(pages: list[render.Page]) -> None:
    """Within Discord's limits, and nothing that could ping anyone."""
    for page in pages:
        assert 1 <= len(page) <= render.EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in page) <= render.EMBED_TOTAL_MAX
        for embed in page:
            assert len(embed.title or "") <= render.TITLE_MAX
            assert len(embed.description or "") <= render.DESCRIPTION_MAX
            for part in (embed.title, embed.description, embed.footer.text):
                assert not _MENTION.search(part or ""), part


def passage_at(core: Core, collection: str, article_id: str, number: int) -> Passage:
    ids = core.storage.sql.article_paragraph_ids(collection, article_id)  # type: ignore[attr-defined]
    passage = core.storage.passages(collection, [ids[number - 1]])[ids[number - 1]]
    assert passage.number == number and passage.article.id == article_id
    return passage


def test_end_to_end_quotes_are_verbatim_and_answers_bounded(hash_core: Core) -> None:
    collections = iter(range(1_000_000))

    @configured(60)
    @given(st.lists(st.tuples(texts(0, 8), articles), min_size=1, max_size=2), st.data())
    def run(added: list[tuple[str, str]], data: st.DataObject) -> None:
        STATS["end to end: examples"] += 1
        collection = f"p{next(collections)}"
        stored: list[str] = []
        for title, body in added:
            try:
                article = hash_core.indexer.add_text(collection, title=title, text=body).article
            except ExtractionError:
                continue
            stored += [passage_at(hash_core, collection, article.id, n).text
                       for n in range(1, article.paragraph_count + 1)]
        mined = st.sampled_from(stored).flatmap(lambda p: st.one_of(  # questions that match
            st.just(p), st.builds(lambda a, n: " ".join(p.split()[a % len(p.split()):][:n]),
                                  st.integers(0, 20), st.integers(3, 12)))) if stored else questions
        asked = data.draw(st.lists(st.one_of(questions, mined, mined), min_size=1, max_size=3))
        for question in asked:
            answer = hash_core.answerer.ask(collection, question)
            STATS["end to end: questions asked"] += 1
            STATS["end to end: questions answered"] += answer.found
            assert len(answer.question) <= MAX_QUESTION_CHARS
            assert answer.found == bool(answer.quotes)
            assert len(answer.quotes) <= hash_core.settings.max_quotes
            for q in answer.quotes:
                passage = passage_at(hash_core, collection, q.citation.article_id,
                                     q.citation.paragraph)
                assert passage.text[q.start:q.end] == q.text and q.text.strip()
                STATS["end to end: quotes verbatim in storage (quotes checked)"] += 1
            assert answer.text.startswith("The indexed") or all(
                q.text in answer.text for q in answer.quotes)
            check_rendered(render.answer_pages(answer))

    run()
    assert STATS["end to end: quotes verbatim in storage (quotes checked)"] > 0


def test_questions_with_lone_surrogates_are_answered_with_encodable_text(
    hash_core: Core,
) -> None:
    hash_core.indexer.add_text("c", title="Bridge", text="The bridge opened on Monday.")
    answer = hash_core.answerer.ask("c", "when did the bridge open \udcff")
    answer.question.encode("utf-8")
    assert answer.found


def test_lone_surrogates_in_articles_become_replacement_characters(hash_core: Core) -> None:
    body = "The bridge \udcff opened on Monday.\n\nTolls \ud800 are waived, the mayor said."
    added = hash_core.indexer.add_text("c", title="Bridge \udc80", text=body)
    assert added.article.title == "Bridge \ufffd"
    passage = passage_at(hash_core, "c", added.article.id, 1)
    assert passage.text == "The bridge \ufffd opened on Monday."
    answer = hash_core.answerer.ask("c", "were the tolls waived, mayor?")
    assert answer.found
    assert answer.quotes[0].text == "Tolls \ufffd are waived, the mayor said."



def test_the_selector_keeps_at_most_max_quotes() -> None:
    body = " ".join(f"The council met for session {i} on the harbour budget." for i in range(10))
    article = prepared_or_none("Title", body)
    assert article is not None
    ranked = [RankedPassage(p, 1.0, 1.0, 1.0) for p in passages_of(article)]
    asked = analyse("harbour budget session")
    selector = QuoteSelector(max_quotes=3, margin=float("inf"))  # every sentence close enough
    assert len(selector.select(asked, ranked)) == 3


def test_a_quote_that_would_not_be_verbatim_is_dropped() -> None:
    meta = Article("a1", "c", "T", None, None, None, None, "h", 1, "2024-01-01T00:00:00Z")
    passage = Passage(7, meta, 1, "The bridge opened.", (Sentence(0, 18), Sentence(18, 40)))
    assert make_quote(passage, 0, 1.0) is not None
    assert make_quote(passage, 1, 1.0) is None  # a stored span past the text quotes nothing
