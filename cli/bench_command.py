"""`run.py bench [--quick]`: run the benchmark suite and write docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bench.settings import DEFAULT_TEST_DIR, REPO, SECTION_NAMES, parse_learning_run, suite_settings
from protocol.errors import UserError


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench")
    bench.add_argument("--quick", action="store_true", help="fewer rounds and configurations (under 10 minutes)")
    bench.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    bench.add_argument("--sections", nargs="+", choices=SECTION_NAMES, default=list(SECTION_NAMES),
                       help="run only these sections (the report still shows every section's last result)")
    bench.add_argument("--learning-runs", nargs="+", metavar="MODEL:PARTITION:METHOD",
                       help="only these runs of the full learning section, e.g. cnn:iid:fedavg (a 'partial' run)")
    bench.add_argument("--continual-variants", nargs="+", metavar="NAME", default=(),
                       help="only these variants of the continual section, e.g. 'EWC (lambda 100)'")
    bench.add_argument("--task", nargs="+", dest="tasks", metavar="NAME", default=None,
                       help="section tasks: measure the round cost of only these tasks (default: every built-in)")
    bench.add_argument("--cached-only", action="store_true",
                       help="build the long sections from the runs finished in docs/bench/runs, computing none")
    bench.add_argument("--report-only", action="store_true",
                       help="rewrite the report from the results in docs/bench without running anything")
    bench.add_argument("--test-data", default=str(DEFAULT_TEST_DIR) if DEFAULT_TEST_DIR.is_dir() else None,
                       help="directory of the MNIST t10k IDX files (default: ../shared/data/mnist when present)")
    bench.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from bench.suite import render_report, run_suite  # matplotlib and the sections load only when benchmarking

    if args.report_only:
        args.out.write_text(render_report(args.out.parent / "bench"))
        print(f"bench: wrote {args.out}")
        return 0
    settings = replace(suite_settings(args.quick, args.test_data), compute_missing=not args.cached_only,
                       continual_variants=tuple(args.continual_variants),
                       cost_tasks=tuple(args.tasks or ()))
    command = "run.py bench" + (" --quick" if args.quick else "")
    if tuple(args.sections) != SECTION_NAMES:
        command += " --sections " + " ".join(args.sections)
    if args.tasks:
        command += " --task " + " ".join(args.tasks)
    if args.learning_runs:
        if args.quick or args.sections != ["learning"]:
            raise UserError("--learning-runs goes with --sections learning and without --quick")
        try:
            runs = tuple(parse_learning_run(text) for text in args.learning_runs)
        except ValueError as error:
            raise UserError(str(error)) from None
        settings = replace(settings, mode="partial", learning_runs=runs)
        command += " --learning-runs " + " ".join(args.learning_runs)
    total = run_suite(settings, tuple(args.sections), args.out, command)
    print(f"bench: wrote {args.out} in {total:.0f} s")
    return 0
