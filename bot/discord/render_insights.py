"""What `/insights` says: the top gaps of a server as one embed under Discord's limits, and
the sentences for insights off, none yet, enabled and disabled."""

from __future__ import annotations

import discord

from bot.discord.render import COLOR, DESCRIPTION_MAX, FOOTER_MAX, TITLE_MAX, clip, sanitize
from retrieval.insights import Gap, InsightReport, InsightSwitch

TITLE = "What members asked that nothing answered"
QUESTION_CHARS = 300  # a gap's question, clipped: ten of them stay far under the limit
OFF = ("Insights are off for this server; an admin can turn them on with /insights enable.")
EMPTY = ("No unanswered or down-voted questions in the last {days} days. Questions answered "
         "\u201cnot found\u201d and answers voted \U0001f44e show here.")
KIND_NAMES = {"not_found": "not found", "voted_down": "voted down"}


def enabled(switch: InsightSwitch) -> str:
    return (f"Insights are on: questions answered \u201cnot found\u201d and answers voted "
            f"\U0001f44e are kept for {switch.retention_days} days (never who asked or "
            "voted). See them with /insights show; /insights disable deletes them.")


def disabled(deleted: int) -> str:
    return (f"Insights are off; deleted {deleted} kept question{'s' if deleted != 1 else ''}. "
            "Nothing more is kept.")


def gap_line(gap: Gap) -> str:
    """One gap: its count, the question (inert), why it is here and when it was last asked."""
    kinds = ", ".join(f"{n} {KIND_NAMES.get(k, k)}" for k, n in gap.kinds.items())
    wordings = f" \u00b7 {gap.variants} wordings" if gap.variants > 1 else ""
    return (f"**{gap.count}\u00d7** {clip(sanitize(gap.question), QUESTION_CHARS)}\n"
            f"{kinds}{wordings} \u00b7 last <t:{int(gap.last_at)}:R>")


def report_embed(report: InsightReport) -> discord.Embed:
    """The gaps, most asked first, as many as fit in one embed's description."""
    lines: list[str] = []
    size = 0
    for gap in report.gaps:
        line = gap_line(gap)
        if size + len(line) + 2 > DESCRIPTION_MAX:
            break
        lines.append(line)
        size += len(line) + 2
    embed = discord.Embed(title=clip(TITLE, TITLE_MAX), description="\n\n".join(lines),
                          color=COLOR)
    kept = report.switch.retention_days if report.switch else 0
    embed.set_footer(text=clip(
        f"The last {report.days} days \u00b7 {report.questions_shown} \u00b7 "
        f"{len(lines)} gaps shown \u00b7 kept {kept} days, never who asked", FOOTER_MAX))
    return embed


def report_reply(report: InsightReport) -> str | discord.Embed:
    """A sentence when insights are off or nothing was kept, else the embed."""
    if report.switch is None:
        return OFF
    if not report.gaps:
        return EMPTY.format(days=report.days)
    return report_embed(report)
