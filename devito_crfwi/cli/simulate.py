"""``devito-crfwi simulate``: model shot gathers over a SEG-Y velocity model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.atomic import check_target


def add_simulate_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="model shot gathers over a SEG-Y velocity model",
        description=(
            "Read a SEG-Y velocity model (m/s), model a surface survey with Devito (evenly "
            "spaced shots and a fixed receiver spread across the model, Ricker source) and "
            "write the gathers as SEG-Y."
        ),
    )
    parser.add_argument("model", type=Path, help="SEG-Y velocity model")
    parser.add_argument("-o", "--output", type=Path, required=True, help="SEG-Y gathers to write")
    parser.add_argument("--shots", type=int, required=True, help="number of shots")
    parser.add_argument("--receivers", type=int, required=True, help="number of receivers")
    parser.add_argument("--f0", type=float, required=True, help="Ricker peak frequency, Hz")
    parser.add_argument("--t-max", type=float, required=True, help="recording length, s")
    parser.add_argument("--dt", type=float, default=None, help="recording interval, s")
    parser.add_argument("--source-depth", type=float, default=None, help="m below the top")
    parser.add_argument("--receiver-depth", type=float, default=None, help="m below the top")
    parser.add_argument("--space-order", type=int, default=8, help="stencil order (default 8)")
    parser.add_argument("--free-surface", action="store_true", help="pressure-free top")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_simulate)
    return parser


def run_simulate(args: argparse.Namespace) -> int:
    from .. import io
    from ..bridge.modelling import simulate
    from ..physics import Survey

    # Fail on an unwritable output before the modelling, not after it.
    check_target(args.output, overwrite=args.overwrite)
    vp = io.read_segy(args.model)
    survey = Survey.surface(vp, n_shots=args.shots, n_receivers=args.receivers, f0=args.f0,
                            t_max=args.t_max, dt=args.dt, source_depth=args.source_depth,
                            receiver_depth=args.receiver_depth)
    data = simulate(vp, survey, progress=not args.no_progress, space_order=args.space_order,
                    free_surface=args.free_surface)
    io.write_shots(data, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}: {survey.n_shots} shots x {survey.n_receivers} receivers x "
          f"{survey.nt} samples at dt = {survey.dt:g} s")
    return 0
