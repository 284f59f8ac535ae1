"""What "it" and "and who ...?" stand for in a follow-up (``retrieval.followup.read``): the
thing the conversation is about (a thing the last question named, or its noun phrase), never
a person; and which follow-ups ask for the time of the event the last quote told of."""

from __future__ import annotations

from index.store import Span, Turn
from retrieval.followup import read, topic_of


def turn(question: str, person: str | None = None, names: tuple[str, ...] = (),
         quote: str = "") -> Turn:
    shown = (Span("a1", 1, 0, len(quote)),) if quote else ()
    return Turn(question, question, person, names, shown, quote, 0.0)


BARRIER = [turn("What is the flood barrier?"),
           turn("Who voted against the barrier?", person="Derek Hale")]


def test_it_is_the_thing_asked_about_never_the_person_an_answer_named() -> None:
    assert read("and who paid for it?", BARRIER).text == "Who paid for the barrier?"
    assert read("and who built it?", [turn("What did the robot do?")]).text == \
        "Who built the robot?"
    bridge = [turn("Who designed the new bridge?", person="Dana Reyes")]
    assert read("when did it open?", bridge).text == "when did the new bridge open?"
    assert read("what did she say about its cost?", bridge).text == \
        "what did Dana Reyes say about the new bridge's cost?"
    council = [turn("What did the city council decide?")]
    assert read("why did it wait so long?", council).text == "why did the city council wait so long?"


def test_a_name_the_last_question_brought_up_still_comes_first() -> None:
    ortiz = [turn("What did Ortiz say about the deal?", person="Ortiz", names=("Port Averly",))]
    assert read("When was it founded?", ortiz).text == "When was Port Averly founded?"
    # With no thing anywhere in the conversation, "it" may still be a speaker that is not a
    # person: "What did North Korea say?" -> "what did it demand?"
    korea = [turn("What did North Korea say?", person="North Korea")]
    assert read("what did it demand?", korea).text == "what did North Korea demand?"
    # a person that is only the question's first name (not a speaker, not whom a "who"
    # question found) is a name like any other
    brazil = [turn("How many trees did Brazil lose in the last decade?", person="Brazil")]
    assert read("what is its capital?", brazil).text == "what is Brazil's capital?"


def test_and_who_keeps_the_topic_of_the_last_question() -> None:
    stadium = [turn("Who proposed the new stadium?", person="Mara Quinn")]
    assert read("and who opposed?", stadium).text == "Who opposed the new stadium?"
    assert read("And who paid for it?", stadium).text == "Who paid for the new stadium?"
    reading = read("and who runs the ferry?", stadium)  # a question with a topic of its own
    assert (reading.text, reading.kind) == ("and who runs the ferry?", "new")


def test_the_topic_is_the_last_questions_noun_phrase_without_its_verb() -> None:
    assert topic_of("What is the flood barrier?") == "the flood barrier"
    assert topic_of("What did the robot do?") == "the robot"
    assert topic_of("What did the city council vote on?") == "the city council"
    assert topic_of("Who started the library petition?") == "the library petition"
    assert topic_of("When did the storm hit the coast?") == "the storm"
    assert topic_of("What did Ortiz say?") is None
    assert topic_of("What is the name of the new bridge?") == "the new bridge"
    assert topic_of("The rate of clearing was how many miles a year?") is None
    assert topic_of("What did an engineer design?") is None  # "the" only: a topic is known
    assert topic_of("When: The council met on Tuesday.") is None  # an event reading


def test_when_follow_ups_ask_for_the_time_of_the_event() -> None:
    said = [turn("What did Ortiz say?", person="Ortiz", quote="Ortiz said after the vote.")]
    for question in ("when was that?", "When did that happen?", "what day was that?",
                     "and when?"):
        assert read(question, said).asks == "when", question
    for question in ("where was that?", "why?", "What did she say?"):
        assert read(question, said).asks == "", question
