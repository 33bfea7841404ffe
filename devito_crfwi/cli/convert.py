"""``devito-crfwi convert``: a raw binary velocity grid to SEG-Y."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.convert import BYTEORDERS, DTYPES, ORDERS, convert_binary
from ..io.units import VELOCITY_UNITS


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``convert`` command to a CLI's subparsers; its handler is :func:`run_convert`.

    The parser stores the handler as ``func``: a main that calls
    ``args.func(args)`` runs it.
    """
    parser = subparsers.add_parser(
        "convert",
        help="convert a raw binary velocity grid to SEG-Y",
        description=(
            "Convert a headerless binary velocity grid (nx*nz numbers) to a SEG-Y model "
            "in m/s. --order xz: z varies fastest (trace after trace); zx: x fastest."
        ),
    )
    parser.add_argument("input", type=Path, help="raw binary file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="SEG-Y file to write")
    parser.add_argument("--shape", type=int, nargs=2, required=True, metavar=("NX", "NZ"))
    parser.add_argument(
        "--spacing", type=float, nargs=2, required=True, metavar=("DX", "DZ"), help="in m"
    )
    parser.add_argument("--order", choices=ORDERS, default="xz", help="storage order (default xz)")
    parser.add_argument(
        "--units", choices=tuple(VELOCITY_UNITS), default="m/s", help="stored unit (default m/s)"
    )
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    parser.add_argument("--byteorder", choices=BYTEORDERS, default="little")
    parser.add_argument(
        "--origin", type=float, nargs=2, default=(0.0, 0.0), metavar=("X0", "Z0"), help="in m"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run_convert)
    return parser


def run_convert(args: argparse.Namespace) -> int:
    """Handler of ``devito-crfwi convert``; wrong inputs raise (``main`` reports them)."""
    model = convert_binary(
        args.input,
        args.output,
        shape=tuple(args.shape),
        spacing=tuple(args.spacing),
        order=args.order,
        units=args.units,
        dtype=args.dtype,
        byteorder=args.byteorder,
        origin=tuple(args.origin),
        overwrite=args.overwrite,
    )
    nx, nz = model.shape
    print(
        f"wrote {args.output}: {nx} x {nz} at dx={args.spacing[0]:g} m, dz={args.spacing[1]:g} m, "
        f"{float(model.min()):g} to {float(model.max()):g} m/s"
    )
    return 0
