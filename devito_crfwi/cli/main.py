"""The ``devito-crfwi`` command line: demo, simulate, invert, convert, ntk, benchmark.

Each subcommand has ``--help``. ``main(argv)`` returns the exit status: 0 on success, 1 with a
one-line message on stderr when the inputs are wrong, 2 for usage errors (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .benchmark import add_benchmark_parser
from .convert import add_convert_parser
from .demo import add_demo_parser
from .invert import add_invert_parser
from .ntk import add_ntk_parser
from .simulate import add_simulate_parser

PROG = "devito-crfwi"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Continuous-representation full-waveform inversion (CR-FWI) on Devito.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="command", required=True)
    for add in (add_demo_parser, add_simulate_parser, add_invert_parser, add_convert_parser,
                add_ntk_parser, add_benchmark_parser):
        add(subparsers)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    # The one error convention: every wrong input is a ValueError (CLIError, SegyError, the
    # library's checks) or an OSError naming the file; both become one line and status 1, as
    # does a MemoryError (the engine's guards name the sizes before allocating them).
    except (ValueError, OSError, FloatingPointError, MemoryError) as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
