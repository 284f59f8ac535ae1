from __future__ import annotations

import pytest

from index.ingest.clean import clean_paragraphs, is_boilerplate
from index.text import split_paragraphs

TITLE = "Storm closes schools across the county"


def test_repeated_title_lines_are_dropped_and_kept_text_is_untouched() -> None:
    body = [TITLE, TITLE, "  Schools   closed on Friday, officials said.  ", TITLE.upper() + "!"]
    cleaned = clean_paragraphs(TITLE, body)
    assert cleaned.paragraphs == ("Schools   closed on Friday, officials said.",)
    assert [d.reason for d in cleaned.dropped] == ["title", "title", "title"]


@pytest.mark.parametrize("line", [
    "Related news", "Related Articles", "Advertisement", "ADVERTISEMENT", "Share this article",
    "Subscribe to our newsletter for daily updates", "Sign up for breaking news alerts",
    "[an error occurred while processing the directive]",
    "[an error occurred while processing this directive]", "Read more: the full timeline",
    "Follow us on Twitter", "Click here to watch the video", "© 2024 Example Media",
    "All rights reserved.", "Share on Facebook",
])
def test_boilerplate_lines_are_recognised(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    "Share prices fell sharply on Monday after the announcement.",
    "Related groups said they would sue the city over the decision to close the park.",
    "Advertisement revenue at the company rose 12 percent in the third quarter, it said.",
    "Subscribers to the service will see prices rise next month, the company said in a statement that also announced layoffs.",
    "Comments made by the minister drew criticism.",
])
def test_article_sentences_that_start_like_boilerplate_are_kept(line: str) -> None:
    assert not is_boilerplate(line)


def test_exact_and_near_duplicates_are_dropped() -> None:
    a = "The council voted 7-2 on Tuesday to build a barrier across the mouth of the harbor."
    near = "The council voted 7-2 on Tuesday to build a barrier across the mouth of the harbor"
    other = "The mayor welcomed the vote and promised construction would begin in March."
    cleaned = clean_paragraphs(None, [a, other, a, near])
    assert cleaned.paragraphs == (a, other)
    assert [d.reason for d in cleaned.dropped] == ["duplicate", "duplicate"]
    longer_near = a.replace("Tuesday", "Tuesday evening")
    assert clean_paragraphs(None, [a, longer_near]).dropped[0].reason == "near-duplicate"


def test_short_similar_paragraphs_are_not_merged() -> None:
    cleaned = clean_paragraphs(None, ["He said yes.", "She said no."])
    assert cleaned.paragraphs == ("He said yes.", "She said no.")


def test_split_on_blank_lines_and_single_newlines() -> None:
    text = "One.\nTwo.\n\n\nThree.\r\n\r\nFour."
    assert split_paragraphs(text) == ["One.", "Two.", "Three.", "Four."]


def test_hard_wrapped_prose_stays_one_paragraph_with_its_newlines() -> None:
    block = ("The Marlow river bridge opened to traffic on Monday, four years\n"
             "later than planned and twelve million dollars over the budget that\n"
             "the council approved in 2019.")
    assert split_paragraphs(block + "\n\nNext.") == [block, "Next."]
