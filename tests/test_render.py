"""Rendering for Discord: inert article text, text-fragment links, and answers split under
Discord's limits (checked with the same validator the fake Discord uses)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import discord
import pytest

from bot.discord import render
from bot.discord.actions import ArticlePage, LinkResult, NotAllowedError
from bot.discord.explain import explain
from bot.discord.limits import OnCooldown, QuotaExceeded
from index.errors import BlockedURLError, ExtractionError, TooLargeError
from index.models import Article, Passage
from retrieval.models import Answer, Citation, Quote, RankedPassage
from tests.fakediscord.limits import message_errors

ZWJ = render.ZWJ


def article(n: int = 1, **kw: Any) -> Article:
    values: dict[str, Any] = {
        "id": f"a{n}", "collection": "guild-1", "title": f"Bridge opens {n}",
        "source": "news.example", "url": f"https://news.example/bridge-{n}",
        "published": "2024-03-01T09:00:00", "author": None, "content_hash": "h",
        "paragraph_count": 5, "added_at": "2024-03-02", "added_by": "42"}
    values.update(kw)
    return Article(**values)


def quote(text: str, n: int = 1, url: str | None = "https://news.example/bridge",
          speaker: str | None = None) -> Quote:
    cite = Citation(f"a{n}", f"Title {n}", "news.example", url, "2024-03-01", n + 1)
    return Quote(text, cite, 0, len(text), speaker, 0.9)


def answer(*quotes: Quote, question: str = "What did the mayor say?") -> Answer:
    return Answer(question, bool(quotes), quotes, ())


def assert_within_limits(pages: list[render.Page]) -> None:
    for page in pages:
        body = {"embeds": [e.to_dict() for e in page]}
        assert message_errors(body) == [], message_errors(body)
        assert 1 <= len(page) <= render.EMBEDS_PER_MESSAGE


# -- inert text ----------------------------------------------------------------------------


def test_mentions_and_invites_are_broken_with_zero_width_joiners() -> None:
    text = "@everyone look <@123> <@!45> <@&678> <#901> </ask:1> @here discord.gg/abc " \
        "https://discord.com/invite/xyz"
    out = render.sanitize(text)
    for raw in ("@everyone", "@here", "<@123>", "<@!45", "<@&678>", "<#901>", "</ask",
                "discord.gg/", "discord.com/invite"):
        assert raw not in out, raw
    assert f"@{ZWJ}everyone" in out and f"<{ZWJ}@&678>" in out
    assert render.unsanitize(out) == text


def test_markdown_is_escaped_and_reads_back() -> None:
    text = "**bold** _it_ ~~s~~ ||spoiler|| `code` [link](http://evil.example) # not a heading"
    out = render.sanitize(text)
    assert "**" not in out.replace("\\*\\*", "") and "[link](" not in out
    assert render.unsanitize(out) == text
    assert render.sanitize("a\n\n> b\t c") == "a > b c"  # one line: no block quote inside
    for start in ("- a list?", "1. a list?", "> a quote?"):  # not at the start either
        assert render.sanitize(start)[0] == "\\" or render.sanitize(start)[1] == "\\"
        assert render.unsanitize(render.sanitize(start)) == start


def test_clip_cuts_at_a_word_with_an_ellipsis() -> None:
    assert render.clip("short", 10) == "short"
    clipped = render.clip("one two three four five six", 15)
    assert clipped == "one two three…" and len(clipped) <= 15


# -- text fragments ------------------------------------------------------------------------


def test_short_quote_fragment_is_the_whole_quote_percent_encoded() -> None:
    url = render.fragment_url("https://news.example/a", "Tolls, fees & co-pays: waived")
    assert url == ("https://news.example/a#:~:text="
                   "Tolls%2C%20fees%20%26%20co%2Dpays%3A%20waived")


def test_long_quote_fragment_uses_text_start_and_end() -> None:
    words = "This bridge connects two halves of a city that have been apart for too long"
    url = render.fragment_url("https://news.example/a", words)
    assert url is not None
    directive = url.split("#:~:text=")[1]
    start, end = directive.split(",")
    assert unquote(start) == "This bridge connects two"
    assert unquote(end) == "apart for too long"


def test_fragment_keeps_an_existing_fragment_and_non_ascii() -> None:
    url = render.fragment_url("https://news.example/a#top", "Zürich — à bientôt")
    assert url is not None and url.startswith("https://news.example/a#top:~:text=Z%C3%BCrich")
    assert "%E2%80%94" in url  # the em dash, UTF-8 percent-encoded


def test_unsafe_or_missing_urls_get_no_link() -> None:
    assert render.fragment_url(None, "x") is None
    assert render.fragment_url("javascript:alert(1)", "x") is None
    url = render.fragment_url("https://en.example/wiki/Bridge_(Marlow)", "x")
    assert url is not None and "(" not in url and ")" not in url
    assert render.fragment_url("https://news.example/" + "a" * 2000, "x") is None
    for invite in ("https://discord.gg/raid", "https://discord.com/invite/raid",
                   "http://DISCORDAPP.COM/invite/x", "https://discord.me/server"):
        assert render.safe_url(invite) is None and render.fragment_url(invite, "x") is None
        cite = Citation("a1", "Join us", None, invite, None, 1)
        assert "](" not in render.citation_line(1, cite, render.fragment_url(invite, "x"))


# -- answers -------------------------------------------------------------------------------


def test_an_answer_is_one_embed_with_block_quotes_and_numbered_citations() -> None:
    a = answer(quote("The bridge is open.", 1, speaker="Mayor Dana Reyes"),
               quote("Tolls are waived.", 2, url=None))
    (page,) = render.answer_pages(a)
    (embed,) = page
    assert embed.title == "What did the mayor say?"
    text = embed.description or ""
    assert "> The bridge is open\\.".replace("\\.", ".") in text
    assert "> — Mayor Dana Reyes" in text
    assert "**[1]** [Title 1](https://news.example/bridge#:~:text=The%20bridge%20is%20open.)" \
        in text
    assert "· news.example · 2024-03-01 · ¶ 2" in text
    assert "**[2]** Title 2 · news.example" in text  # no URL: no link
    assert_within_limits([page])


def test_many_long_quotes_are_split_between_quotes_under_every_limit() -> None:
    quotes = [quote(f"Quote {i} " + "word " * 180 + f"end{i}.", i) for i in range(1, 11)]
    pages = render.answer_pages(answer(*quotes))
    assert len(pages) > 1
    assert_within_limits(pages)
    shown = "\n".join(e.description or "" for page in pages for e in page)
    for q in quotes:  # every quote whole, exactly once
        assert shown.count(render.sanitize(q.text)) == 1
    assert pages[0][0].title and all(e.title is None for p in pages for e in p[1:])


def test_only_a_quote_longer_than_an_embed_is_shortened_and_still_links_in_full() -> None:
    long_text = "Opening " + " ".join(f"w{i}" for i in range(1200)) + " closing words here."
    pages = render.answer_pages(answer(quote(long_text)))
    assert_within_limits(pages)
    (page,) = pages
    text = page[0].description or ""
    assert "…" in text and "closing words here" not in text.split("\n")[0]
    assert "text=Opening%20w0%20w1%20w2,w1199%20closing%20words%20here." in text


def test_not_found_says_so_and_shows_the_closest_passages() -> None:
    art = article(url="https://news.example/bridge")
    passage = Passage(1, art, 3, "The council met on Tuesday. " * 30)
    a = Answer("Who won the lottery?", False, (), (RankedPassage(passage, 0.2, 0.1, 0.1),))
    (page,) = render.answer_pages(a)
    text = page[0].description or ""
    assert text.startswith("**Not found.** The articles in this server do not answer")
    assert "**[1]** [Bridge opens 1](https://news.example/bridge#:~:text=" in text
    assert "¶ 3" in text and "…" in text
    assert render.read_answer(page).quotes == []
    empty = render.answer_pages(Answer("Anything?", False, (), ()))
    assert "No article in this server matches" in (empty[0][0].description or "")


def test_the_question_and_quotes_read_back_from_the_embeds() -> None:
    a = answer(quote("Tolls, *all* of them, are waived.", 1, speaker="Patel"),
               quote("@everyone gets a <@&5> refund.", 2), question="Who said **that**?")
    shown = render.read_answer(render.answer_pages(a)[0])
    assert shown.question == "Who said **that**?"
    assert [q["text"] for q in shown.quotes] == [q.text for q in a.quotes]
    assert shown.quotes[0]["url"].startswith("https://news.example/bridge#:~:text=")
    assert shown.quotes[1]["citation"].startswith("Title 2 · news.example")


# -- other messages ------------------------------------------------------------------------


def test_added_confirmation_names_title_source_and_paragraphs() -> None:
    text = render.added(article(title="A *big* @everyone day"), "added")
    assert text.startswith("Added: **[A \\*big\\* @\u200deveryone day](<https://news.example")
    assert "news.example · 2024-03-01 · 5 paragraphs" in text
    assert render.added(article(url=None, paragraph_count=1), "unchanged").startswith(
        "Already indexed: **Bridge opens 1** · news.example · 2024-03-01 · 1 paragraph.")


def test_added_many_reports_each_link() -> None:
    text = render.added_many([LinkResult("https://a.example/x", article()),
                              LinkResult("https://b.example/y", None, "Blocked: private.")])
    first, second = text.split("\n")
    assert first.startswith("\u2705 **[Bridge opens 1]")
    assert second == "\u274c <https://b.example/y>: Blocked: private."


def test_article_pages_and_choices() -> None:
    page = ArticlePage([article(i) for i in range(1, 11)], 2, 3, 27)
    embed = render.articles_embed(page)
    assert embed.footer.text == "Page 2/3 · 27 articles"
    assert render.page_of(embed) == 2 and render.page_of(None) == 1
    assert (embed.description or "").count("\n") == 9 and "`a10`" in (embed.description or "")
    assert len(render.choice_name(article(title="x" * 300))) <= 100


def test_progress_and_help_fit() -> None:
    assert render.progress(3, 12) == "Reindexing this server's articles… 3/12 (25%)"
    assert render.progress(0, 0).endswith("(100%)")
    body = {"embeds": [render.help_embed().to_dict()]}
    assert message_errors(body) == []


@pytest.mark.parametrize(("error", "expected"), [
    (OnCooldown(4.2), "Please wait 5 s before asking again."),
    (QuotaExceeded(125.0, 30), "This server has added 30 articles in the last hour"),
    (BlockedURLError("Private addresses are not allowed."), "Could not fetch that page. Priv"),
    (ExtractionError("No text."), "That does not look like an article. No text."),
    (TooLargeError("Over the limit."), "Too large. Over the limit."),
    (NotAllowedError("Only the adder."), "Not allowed. Only the adder."),
    (discord.app_commands.MissingPermissions(["manage_guild"]), render.MANAGE_SERVER),
])
def test_errors_become_sentences(error: Exception, expected: str) -> None:
    assert (explain(error) or "").startswith(expected)


def test_unexpected_errors_have_no_text() -> None:
    assert explain(RuntimeError("boom")) is None
