"""Conversations in the core: reading follow-ups by rules, keeping turns in storage (bounded,
per server, expiring), and chains of follow-ups that quote the right sentence at each turn."""

from __future__ import annotations

import sqlite3

import pytest

from config.settings import Settings
from index.encode.embed import Embedder
from index.store import Span, Turn
from retrieval.conversation import EVENT_BONUS, prior_of
from retrieval.core import Core
from retrieval.followup import names_in, plain_name, read, referents
from retrieval.models import Answer
from tests.conversation_texts import (
    FERRY,
    FERRY_CHAIN,
    LIBRARY,
    SEED,
    SEED_CHAINS,
    Step,
    holds,
    title_and_text,
)

ORTIZ = Turn("What did Ortiz say about the deal?", "What did Ortiz say about the deal?",
             "Ortiz", ("Port Averly",), (Span("a1", 2, 0, 40),),
             "The council meeting was on Tuesday in the old customs house.", 0.0)


def turn(question: str, at: float = 0.0, **fields: object) -> Turn:
    values: dict[str, object] = {"read_as": question, "person": None, "names": (),
                                 "shown": (), "quote": "", **fields}
    return Turn(question, at=at, **values)  # type: ignore[arg-type]


# -- reading follow-ups ----------------------------------------------------------------------


def test_a_question_without_a_conversation_is_read_as_it_is() -> None:
    reading = read("What did she say?", [])
    assert (reading.text, reading.kind, reading.exclude_shown) == ("What did she say?", "new",
                                                                  False)


def test_pronouns_stand_for_the_person_the_thing_and_the_group() -> None:
    turns = [ORTIZ]
    assert read("What did she say about the fares?", turns).text == \
        "What did Ortiz say about the fares?"
    assert read("Where is her office?", turns).text == "Where is Ortiz's office?"
    assert read("When was it founded?", turns).text == "When was Port Averly founded?"
    assert read("How long did it take?", turns).text == "How long did it take?"  # no referent
    teams = [turn("Who beat the Broncos?", names=("Broncos",))]
    assert read("Who did they play next?", teams).text == "Who did Broncos play next?"
    assert read("What was their score?", teams).text == "What was Broncos' score?"
    assert read("What did she say?", [turn("How many ferries are there?")]).kind == "new"
    gifts = [turn("What gifts did Pompeo deliver?", person="Pompeo")]
    assert read("Who were they from?", gifts).text == "Who were the gifts from?"
    assert read("Where did he deliver them?", gifts).text == \
        "Where did Pompeo deliver the gifts?"
    assert read("Who were they from?", teams).text == "Who were Broncos from?"  # a name first


def test_what_else_asks_again_and_leaves_out_what_was_shown() -> None:
    reading = read("What else did she say?", [ORTIZ])
    assert (reading.text, reading.kind, reading.exclude_shown) == ("What did Ortiz say?",
                                                                  "more", True)
    assert read("anything else?", [ORTIZ]).text == "What did Ortiz say?"
    who = turn("Who voted against the contract?")
    assert read("Who else?", [who]).text == "Who voted against the contract?"
    assert read("What else did he say about the fares?", [ORTIZ]).text == \
        "What did Ortiz say about the fares?"


def test_and_x_takes_the_place_of_the_person_or_the_subject() -> None:
    assert read("And Hale?", [ORTIZ]).text == "What did Hale say about the deal?"
    assert read("and hale?", [ORTIZ]).text == "What did Hale say about the deal?"
    assert read("What about the fares?", [ORTIZ]).text == "What did Ortiz say about the fares?"
    reading = read("And when did she leave?", [ORTIZ])  # a question of its own, not "and X?"
    assert (reading.text, reading.kind) == ("When did Ortiz leave?", "pronoun")


def test_when_or_where_was_that_points_at_the_last_quote() -> None:
    for question in ("When was that?", "where did that happen?", "Why?", "and when?"):
        reading = read(question, [ORTIZ])
        assert reading.kind == "event", question
        assert reading.text.endswith(": The council meeting was on Tuesday in the old customs house.")
    assert read("When is that meeting?", [ORTIZ]).kind == "event"  # the quote told of it
    assert read("When is that vote?", [ORTIZ]).kind == "new"
    assert read("When did she arrive?", [ORTIZ]).text == "When did Ortiz arrive?"


def test_that_x_points_at_whichever_quote_of_the_last_answer_spoke_of_x() -> None:
    two = turn("What did Ortiz say?", person="Ortiz", shown=(
        Span("a1", 2, 0, 40), Span("a1", 5, 0, 50)),
        quote="Ortiz said the deal was signed.\nOrtiz said there would be a vote next week.")
    reading = read("When is that vote?", [two])
    assert (reading.kind, reading.points_at) == ("event", 1)
    assert reading.text == "When is that vote: Ortiz said there would be a vote next week."
    prior = prior_of((two,), reading)  # the paragraph of the quote it points at, not the first
    assert prior.paragraphs[("a1", 5)] == EVENT_BONUS > prior.paragraphs[("a1", 2)]
    assert read("When was that?", [two]).text.endswith(": Ortiz said the deal was signed.")


def test_names_and_people() -> None:
    assert names_in("What did North Korea's leader tell Pompeo in Pyongyang?") == [
        "North Korea", "Pompeo", "Pyongyang"]
    assert names_in("During the talks, what did they say?") == []
    assert plain_name("Secretary Pompeo") == "Pompeo"
    assert referents([ORTIZ, turn("Who lost to the Panthers?", names=("Panthers",))]) == {
        "person": "Ortiz", "thing": "Panthers", "group": "Panthers"}


# -- storage ---------------------------------------------------------------------------------


def test_turns_are_kept_in_order_bounded_and_found_by_their_keys(any_core: Core) -> None:
    storage = any_core.storage
    for i in range(5):
        storage.append_turn("guild-1", "c1", turn(f"q{i}", at=100.0 + i, shown=(
            Span("a", 1, 0, i),), quote=f"quote {i}"), max_turns=3)
    found = storage.conversation("guild-1", "c1")
    assert found is not None and found.id == "c1" and found.updated_at == 104.0
    assert [t.question for t in found.turns] == ["q2", "q3", "q4"]
    assert found.turns[-1] == turn("q4", at=104.0, shown=(Span("a", 1, 0, 4),),
                                   quote="quote 4")
    assert storage.conversation("guild-2", "c1") is None  # another server's
    storage.link_conversation("guild-1", "c1", "message-9")
    assert storage.conversation("guild-1", "message-9").id == "c1"  # type: ignore[union-attr]
    storage.link_conversation("guild-2", "c1", "message-9")  # no c1 there: nothing
    assert storage.conversation("guild-2", "message-9") is None


def test_idle_conversations_expire_with_their_keys(any_core: Core) -> None:
    storage = any_core.storage
    storage.append_turn("guild-1", "old", turn("q", at=100.0), max_turns=5)
    storage.link_conversation("guild-1", "old", "message-1")
    storage.append_turn("guild-1", "new", turn("q", at=200.0), max_turns=5)
    assert storage.expire_conversations(150.0) == 1
    assert storage.conversation("guild-1", "old") is None
    assert storage.conversation("guild-1", "message-1") is None
    assert storage.conversation("guild-1", "new") is not None


def test_a_damaged_turn_is_left_out(hash_core: Core, settings: Settings) -> None:
    for question in ("first", "second"):
        hash_core.storage.append_turn("guild-1", "c", turn(question), max_turns=5)
    with sqlite3.connect(settings.db_path) as db:
        db.execute("UPDATE conversation_turns SET data = '{' WHERE n = 1")
    found = hash_core.storage.conversation("guild-1", "c")
    assert found is not None and [t.question for t in found.turns] == ["second"]


# -- through the core ------------------------------------------------------------------------


def add_articles(core: Core, collection: str = "default") -> None:
    for article in (FERRY, LIBRARY):
        title, text = title_and_text(article)
        core.add_text(collection, title=title, text=text)


def test_a_conversation_idle_too_long_starts_again(any_core: Core) -> None:
    now = [1_000.0]
    any_core.conversations.clock = lambda: now[0]
    add_articles(any_core)
    any_core.ask("default", "What did Ortiz say about the deal?", conversation="c")
    assert any_core.ask("default", "What else did she say?",
                         conversation="c").read_as == "What did Ortiz say?"
    now[0] += any_core.conversations.idle_s + 1
    assert any_core.conversation("default", "c") is None
    assert any_core.ask("default", "What else did she say?", conversation="c").read_as is None
    found = any_core.conversation("default", "c")
    assert found is not None and len(found.turns) == 1


def test_a_dialogue_reads_answers_and_records_a_follow_up(hash_core: Core) -> None:
    """The conversation's part of answering is retrieval's own: given the answerer and the
    conversations, a dialogue reads a follow-up with its turns and keeps it as the next."""
    from retrieval.dialogue import Dialogue

    add_articles(hash_core)
    dialogue = Dialogue(hash_core.answerer, hash_core.conversations, writer=None)
    dialogue.ask("default", "What did Ortiz say about the deal?", conversation="c")
    answer = dialogue.ask("default", "What else did she say?", conversation="c")
    assert answer.question == "What else did she say?"
    assert answer.read_as == "What did Ortiz say?"
    found = hash_core.conversation("default", "c")
    assert found is not None and [t.question for t in found.turns] == [
        "What did Ortiz say about the deal?", "What else did she say?"]
    alone = dialogue.ask("default", "What else did she say?")
    assert alone.read_as is None and hash_core.conversation("default", "c") == found


def test_a_conversation_keeps_its_last_turns(settings: Settings, real_embedder: Embedder) -> None:
    settings = settings.model_copy(update={"conversation_max_turns": 2})
    with Core.open(settings, embedder=real_embedder) as core:
        add_articles(core)
        for question, _ in FERRY_CHAIN[:4]:
            core.ask("default", question, conversation="c")
        found = core.conversation("default", "c")
    assert found is not None
    assert [t.question for t in found.turns] == [q for q, _ in FERRY_CHAIN[2:4]]


def ask_chain(core: Core, collection: str, chain: list[Step], conversation: str) -> list[str]:
    """Each step's first quote; asserts that it holds the step's words."""
    firsts = []
    for question, words in chain:
        answer = core.ask(collection, question, conversation=conversation)
        first = answer.quotes[0].text if answer.quotes else ""
        assert answer.found and holds(words, first), (question, answer.read_as, first)
        firsts.append(first)
    return firsts


def test_follow_ups_quote_the_right_sentence_at_each_turn(real_core: Core) -> None:
    add_articles(real_core)
    firsts = ask_chain(real_core, "default", FERRY_CHAIN, "ferry")
    assert len(set(firsts)) == len(firsts) - 1  # only "when was that?" shows a quote again
    alone = real_core.ask("default", "What else did she say?")  # no context: no Ortiz
    assert not any("fares would stay" in q.text for q in alone.quotes)


def test_what_else_never_shows_a_quote_again(real_core: Core) -> None:
    add_articles(real_core)
    shown: list[str] = []
    real_core.ask("default", "What did Ortiz say?", conversation="c")
    for question in ("What did Ortiz say?", "What else did she say?", "What else?"):
        answer = real_core.ask("default", question, conversation="c")
        assert not set(q.text for q in answer.quotes) & set(shown)
        shown += [q.text for q in answer.quotes]


def test_a_restart_keeps_the_conversation(settings: Settings, real_embedder: Embedder) -> None:
    with Core.open(settings, embedder=real_embedder) as core:
        add_articles(core)
        core.ask("default", "What did Ortiz say about the deal?", conversation="c")
    with Core.open(settings, embedder=real_embedder) as core:  # a new process, as it were
        answer = core.ask("default", "What else did she say?", conversation="c")
    assert answer.read_as == "What did Ortiz say?"
    assert "fares would stay" in answer.quotes[0].text


@pytest.mark.skipif(not SEED.exists(), reason="the shared seed article is not present")
@pytest.mark.parametrize("number", range(len(SEED_CHAINS)))
def test_seed_article_chains(real_core: Core, number: int) -> None:
    real_core.add_file("default", SEED)
    chain = SEED_CHAINS[number]
    ask_chain(real_core, "default", chain, f"seed-{number}")
    if number == 2:  # its follow-ups name their people again ("where did Pompeo ...?")
        return
    missed = [question for question, words in chain[1:]
              if not _first_holds(real_core.ask("default", question), words)]
    assert missed, "every follow-up finds its quote alone: the chain does not need context"


def _first_holds(answer: Answer, words: str) -> bool:
    return bool(answer.quotes) and holds(words, answer.quotes[0].text)
