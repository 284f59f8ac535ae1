"""`citebot eval`: runs the evaluation over a scratch data directory and prints its table."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.evaluate import evaluate
from retrieval.evaluate_chains import evaluate_chains, is_chains_file, render_chains

if TYPE_CHECKING:
    from bot.cli import Context


def run_eval(ctx: Context) -> int:
    args, settings = ctx.args, ctx.settings
    chains = is_chains_file(args.file)
    with tempfile.TemporaryDirectory(prefix="citebot-eval-") as tmp:
        if args.data_dir is None:
            settings = settings.model_copy(update={"data_dir": Path(tmp)})
        if chains:  # follow-up chains (benchmarks/followup_chains.py), per turn
            report = evaluate_chains(args.file, settings, dates=not args.ignore_dates,
                                     log=lambda m: print(m, file=sys.stderr),
                                     open_core=ctx.core)
        else:
            report = evaluate(args.file, settings, limit=args.limit,
                              baselines=not args.no_baselines, dates=not args.ignore_dates,
                              log=lambda m: print(m, file=sys.stderr), open_core=ctx.core)
    print(render_chains(report) if chains else render(report))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def render(report: dict[str, object]) -> str:
    rows: list[dict[str, object]] = report["results"]  # type: ignore[assignment]
    cols = ["method", "hit@1", "hit@5", "mrr", "right_article@1", "latency_ms_median",
            "latency_ms_p95"]
    lines = [f"{report['file']}: {report['questions']} questions over {report['articles']} "
             f"articles ({report['left_out_not_verbatim']} left out: answer not verbatim)",
             f"model {report['model']} ({report['encoder']}); indexed {report['passages']} "
             f"passages in {report['index_seconds']} s ({report['passages_per_second']}/s)",
             "  ".join(f"{c:>17}" for c in cols)]
    for r in rows:
        lines.append("  ".join(f"{r.get(c, '-')!s:>17}" for c in cols))
    lines.append(f"quotes verified verbatim: {report['quotes_verified']}")
    lines.append(f"questions asked as of their question_date: {report['asked_on_their_date']} "
                 "(citebot only; the baselines ignore dates)")
    return "\n".join(lines)
