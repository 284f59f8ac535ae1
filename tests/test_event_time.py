"""The time of the event a quote told of (``retrieval.event_time``): which words date an
event, and how the note that says the article gives no time is shown on Discord, in plain
text and in JSON (the quotes stay the verified sentences; the note is citebot's own words)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.discord import render
from bot.discord.render_plain import answer_text
from bot.render_text import render_answer
from retrieval.event_time import TIME, event_of, no_time
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
