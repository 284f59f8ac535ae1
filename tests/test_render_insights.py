"""`/insights` rendering: one embed under Discord's limits however long the questions, and
members' text made inert (no pings, no markdown)."""

from __future__ import annotations

from bot.cli.insights import report_lines
from bot.discord import render, render_insights
from retrieval.insights import MAX_QUESTIONS, Gap, InsightReport, InsightSwitch


def report(question: str, gaps: int = 10) -> InsightReport:
    switch = InsightSwitch("guild-1", 30, 0.0)
    return InsightReport("guild-1", switch, 7, gaps * 3, tuple(
        Gap(f"{i} {question}", 3, {"not_found": 2, "voted_down": 1}, 1_800_000_000.0, 2)
        for i in range(gaps)))


def test_long_questions_fit_in_one_embed() -> None:
    embed = render_insights.report_reply(report("why " * 1000, gaps=25))
    assert not isinstance(embed, str)
    assert len(embed.description or "") <= render.DESCRIPTION_MAX
    assert len(embed) <= render.EMBED_TOTAL_MAX
    shown = (embed.description or "").count("**3\u00d7**")
    assert shown >= 5 and f"{shown} gaps shown" in (embed.footer.text or "")


def test_questions_are_inert() -> None:
    embed = render_insights.report_reply(report("@everyone **look** <#123> [x](http://a)", 1))
    assert not isinstance(embed, str)
    text = embed.description or ""
    assert "@everyone" not in text and "**look**" not in text and "<#" not in text
    assert "2 not found, 1 voted down \u00b7 2 wordings" in text


def test_off_and_empty_are_sentences() -> None:
    off = InsightReport("guild-1", None, 7, 0, ())
    assert render_insights.report_reply(off) == render_insights.OFF
    empty = InsightReport("guild-1", InsightSwitch("guild-1", 30, 0.0), 5, 0, ())
    assert render_insights.report_reply(empty) == render_insights.EMPTY.format(days=5)


def test_a_report_that_read_its_limit_says_only_the_newest_were_grouped() -> None:
    full = InsightReport("guild-1", InsightSwitch("guild-1", 30, 0.0), 7, MAX_QUESTIONS,
                         report("why", 3).gaps)
    embed = render_insights.report_reply(full)
    assert not isinstance(embed, str)
    assert f"the newest {MAX_QUESTIONS} questions" in (embed.footer.text or "")
    lines = report_lines(full, "default")
    assert f"the newest {MAX_QUESTIONS} questions" in lines[0]
