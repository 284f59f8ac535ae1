"""Answers rendered for a terminal."""

from __future__ import annotations

import textwrap

from retrieval.models import Answer, Citation


def cite(c: Citation) -> str:
    """One line: title — source, date, paragraph n."""
    parts = [x for x in (c.source, c.published) if x]
    return f"{c.title} — " + ", ".join([*parts, f"paragraph {c.paragraph}"])


def render_answer(answer: Answer, width: int = 96) -> str:
    """The quotes with numbered citations (under the model's prose when one wrote it), or an
    honest "not found" with closest matches."""
    lines: list[str] = []
    if answer.found and answer.written is not None:
        lines += [textwrap.fill(answer.written.text, width=width), ""]
        if answer.written.notice:
            lines += [textwrap.fill(f"({answer.written.notice})", width=width), ""]
    if answer.found:
        for i, q in enumerate(answer.quotes, 1):
            body = textwrap.fill(f"\u201c{q.text}\u201d [{i}]", width=width,
                                 initial_indent="  ", subsequent_indent="   ")
            lines.append(body)
            if q.speaker:
                lines.append(f"    — {q.speaker}")
            lines.append("")
        if answer.note:
            lines += [textwrap.fill(answer.note, width=width), ""]
        for i, q in enumerate(answer.quotes, 1):
            lines.append(f"[{i}] {cite(q.citation)}")
            if q.citation.url:
                lines.append(f"    {q.citation.url}")
        return "\n".join(lines)
    lines.append("The indexed articles do not answer this question.")
    if answer.passages:
        lines.append("Closest matches:")
        for r in answer.passages[:3]:
            snippet = textwrap.shorten(r.passage.text, width=width - 8, placeholder=" …")
            lines.append(f"  - {r.passage.article.title}, paragraph {r.passage.number}:")
            lines.append(f"      {snippet}")
    return "\n".join(lines)
