"""The time of the event a quote told of (``retrieval.event_time``): which words date an
event, and how the note that says the article gives no time is shown on Discord, in plain
text and in JSON (the quotes stay the verified sentences; the note is citebot's own words)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.discord import render
from bot.discord.render_plain import answer_text
from bot.render_text import render_answer
from index.store import Span, Turn
from retrieval.conversation import Context
from retrieval.core import Core
from retrieval.event_time import TIME, event_of, no_time, timed
from retrieval.followup import Reading
from retrieval.models import Answer, Prior
from tests.test_cli_chat_followups import EXAMPLES
from tests.test_render import answer, quote

NOTE = no_time("2024-05-02T08:00:00")


@pytest.mark.parametrize("text", [
    "voted 7-2 on Tuesday", "started in January by juniors", "opened in 1998", "next month",
    "three months after a record storm", "until 9 p.m.", "on March 3, 2024", "yesterday"])
def test_a_date_or_a_time_is_found(text: str) -> None:
    assert TIME.search(text), text


@pytest.mark.parametrize("text", [
    "open on Saturdays and Sundays", "lived there for 22 years", "open 360 days a year",
    "a meter of water", "the march through town"])
def test_a_duration_a_schedule_or_a_plain_word_is_no_time(text: str) -> None:
    assert not TIME.search(text), text


def test_the_event_is_the_question_and_the_narration_more_than_the_quoted_words() -> None:
    event = event_of("What did Ortiz say about the barrier?",
                     '"We hope the water stays away," Mayor Lucia Ortiz said after the vote.')
    assert event.weights["barrier"] == event.weights["vote"] > event.weights["water"]
    assert set(event.asked) == {"ortiz", "barrier"}  # no "say", no "what"
    assert event.weights["ortiz"] == event.weights["lucia"] == event.weights["water"]


def test_the_note_follows_the_verified_quotes_everywhere() -> None:
    assert NOTE == "The article gives no time for this; it was published on 2024-05-02."
    shown = replace(answer(quote("The bakery will close, owner Rosa Vance said.")), note=NOTE)
    page = render.answer_pages(shown)[0][0]
    assert page.description is not None
    assert page.description.startswith("> The bakery will close")
    assert page.description.endswith(f"*{NOTE}*")
    assert answer_text(shown).endswith(f"*{NOTE}*")
    text = render_answer(shown)
    assert text.index("Rosa Vance said") < text.index("no time for this") < text.index("[1] ")
    assert shown.to_json()["note"] == NOTE and answer(quote("x")).to_json()["note"] is None
    assert no_time(None) == "The article gives no time for this, and no publication date."


def test_the_time_is_found_alike_on_both_backends(any_core: Core) -> None:
    """Which sentence dates an event depends on the article alone, not on the ranking nor on
    the backend (every paragraph of the article holding the event's words is read)."""
    added = any_core.add_file("default", EXAMPLES / "harbor-flood-barrier.md").article
    passage = next(iter(any_core.storage.passages("default", [
        h.paragraph for h in any_core.storage.lexical_search(
            "default", "families rebuild", 5, article_id=added.id)]).values()))
    said = passage.sentences[0]
    ortiz = passage.text[said.start:said.end]
    assert ortiz.endswith("Mayor Lucia Ortiz said after the vote.")

    def when(question: str, quote: str, span: Span) -> Answer:
        last = Turn(question, question, "Ortiz", (), (span,), quote, 0.0)
        reading = Reading(f"When: {quote}", "event", asks="when")
        context = Context("default", "c", "when was that?", (last,), reading, Prior())
        return timed(any_core.storage, "default", context, Answer("when was that?", False,
                                                                  (), ()))

    span = Span(added.id, passage.number, said.start, said.end)
    dated = when("What did Ortiz say about the barrier?", ortiz, span)
    assert dated.found and dated.note is None
    assert "voted 7-2 on Tuesday" in dated.quotes[0].text and dated.quotes[0].citation.paragraph == 1
    # nothing dates what was said about the water alone: the quote again, and the note
    plain = when("What did Ortiz say about the water?", ortiz.replace("the vote", "it"), span)
    assert plain.quotes[0].text == ortiz and plain.note == no_time(None)
    gone = Span("no-such-article", span.paragraph, span.start, span.end)
    assert when("What did Ortiz say?", ortiz, gone).quotes == ()  # the answer as it was
