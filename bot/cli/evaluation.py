"""`citebot eval`: runs the evaluation over a scratch data directory and prints its table."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.cli.context import Commands, Context

EVAL_COLLECTION = "eval"  # without --collection: not the default collection of one's articles


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    ev = commands.add_parser(
        "eval", parents=[common], help="measure answer quality on a question file, with "
        "baselines", description="Measure answer quality on a question file (with baselines), "
        "or on a file of follow-up chains (per turn, with and without context; "
        "docs/CONVERSATIONS.md). The articles go into the collection 'eval' (or --collection "
        "NAME) and NAME-without-tune and NAME-without-report, which must hold no other "
        "articles.")
    ev.add_argument("file", type=Path, help="question set or chains file (JSON Lines, see "
                    "docs/EVALUATION.md and docs/CONVERSATIONS.md)")
    ev.add_argument("--output", type=Path, help="write the results as JSON here")
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--no-baselines", action="store_true", help="score citebot only")
    ev.add_argument("--ignore-dates", action="store_true",
                    help="ask every question as of today instead of on its question_date")
    ev.add_argument("--split", choices=("tune", "report", "all"), default="all",
                    help="the side of the fixed split to ask (default: both, side by side)")
    ev.add_argument("--no-unanswerable", action="store_true",
                    help="skip asking each side's questions of the other side's articles")
    ev.set_defaults(handler=run_eval)


def run_eval(ctx: Context) -> int:
    # the evaluation loads only here
    from retrieval.evaluation.evaluate import evaluate, open_remembering
    from retrieval.evaluation.evaluate_chains import evaluate_chains, is_chains_file, render_chains

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
                              split=args.split, unanswerable=not args.no_unanswerable,
                              log=lambda m: print(m, file=sys.stderr),
                              open_core=lambda s: open_remembering(s, ctx.embedder),
                              collection=EVAL_COLLECTION if ctx.collection == "default"
                              else ctx.collection)
    print(render_chains(report) if chains else render(report))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def render(report: dict[str, Any]) -> str:
    """The report as text: one table per side of the split."""
    cols = ["method", "hit@1", "hit@5", "mrr", "right_article@1", "latency_ms_median",
            "latency_ms_p95"]
    lines = [f"{report['file']}: {report['articles']} articles "
             f"({report['left_out_not_verbatim']} questions left out: answer not verbatim); "
             f"questions asked as of their question_date: {report['asked_on_their_date']} "
             "(citebot only; the baselines ignore dates)",
             f"model {report['model']} ({report['encoder']}); indexed {report['passages']} "
             f"passages in {report['index_seconds']} s ({report['passages_per_second']}/s)"]
    for side, t in report["sides"].items():
        unanswerable = (f"{100 * t['unanswerable_answered']:.1f}% of {t['unanswerable_asked']} "
                        f"({100 * t['unanswerable_answer_quoted']:.1f}% with the answer quoted "
                        "first all the same)" if t["unanswerable_asked"] else "not measured")
        lines += ["", f"[{side}] {t['questions']} questions over {t['articles']} articles; "
                  f"answerable answered 'not found': {100 * t['answerable_not_found']:.1f}%; "
                  f"unanswerable answered: {unanswerable}; "
                  f"quotes verified verbatim: {t['quotes_verified']}",
                  "  ".join(f"{c:>17}" for c in cols)]
        lines += ["  ".join(f"{r.get(c, '-')!s:>17}" for c in cols) for r in t["results"]]
    return "\n".join(lines)
