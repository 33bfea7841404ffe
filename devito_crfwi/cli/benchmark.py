"""``devito-crfwi benchmark CONFIG.toml``: the paper's comparisons, resumable, with workers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..experiments import runner
from ..experiments.runner import Benchmark, CellsFailedError, run_workers


def add_benchmark_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "benchmark", help="run the paper's comparisons from a TOML config (resumable)",
        description=runner.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="benchmark TOML (see bench/paper/*.toml)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="folder of runs/ and figures (default: the config's output_dir)")
    parser.add_argument("--results", type=Path, default=None,
                        help="the markdown report (default: the config's results)")
    parser.add_argument("--report-only", action="store_true",
                        help="only (re)write RESULTS.md and the figures from finished runs")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, one thread each (default 1: run here); "
                             "e.g. the number of cores when the grids are small")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--inner-progress", action="store_true",
                        help="a progress bar per run too")
    parser.set_defaults(func=run_benchmark)
    return parser


def run_benchmark(args: argparse.Namespace) -> int:
    bench = Benchmark(args.config, output_dir=args.output_dir, results=args.results)
    failure = None
    try:
        if not args.report_only and args.workers > 1:
            argv = [str(args.config)]
            for flag, value in (("--output-dir", args.output_dir), ("--results", args.results)):
                if value is not None:
                    argv += [flag, str(value)]
            run_workers(bench, argv, args.workers, progress=not args.no_progress)
        elif not args.report_only:
            bench.run(progress=not args.no_progress, inner_progress=args.inner_progress)
    except CellsFailedError as err:  # the finished runs still make the report
        failure = err
    path = bench.report()
    print(f"{len(bench.summaries())}/{len(bench.cells())} runs finished; report: {path}")
    if failure is not None:
        print(f"devito-crfwi benchmark: error: {failure}", file=sys.stderr)
        return 1
    return 0
