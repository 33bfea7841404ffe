"""``devito-crfwi ntk``: eigenvalue decay of the wave kernel and of representations' NTKs.

Reads a SEG-Y velocity model, sets up a surface survey over it, computes the top-k
eigenvalues of ``J Jᵀ`` and of ``(J G)(J G)ᵀ`` for each representation built on the model,
prints a table and writes a PNG of ``λ_i / λ_1``. :func:`add_ntk_parser` is called by
``devito_crfwi.cli``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..ntk.spectrum import DEFAULT_REPRESENTATIONS, ENCODING_PARAMETERS

NAMES = ("pixel", "inr", "fourier", "grid", "ig", "lowrank")


def add_ntk_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ntk`` subcommand to an ``argparse`` subparsers object (sets ``func``)."""
    parser = subparsers.add_parser(
        "ntk",
        help="eigenvalue decay of the wave kernel and of representations' NTKs",
        description=(
            "Top-k eigenvalues of the wave kernel J J^T (conventional FWI) and of the wave-based "
            "NTK (J G)(J G)^T of each representation, built on a SEG-Y velocity model (m/s) "
            "with a surface survey (Ricker source). Prints a table and writes a PNG of the "
            "normalised decay lambda_i / lambda_1."
        ),
    )
    parser.add_argument("model", type=Path, help="SEG-Y velocity model (m/s)")
    parser.add_argument("-o", "--output", type=Path, default=Path("ntk_spectra.png"),
                        help="PNG to write (default ntk_spectra.png)")
    parser.add_argument("--shots", type=int, default=4, help="number of shots (default 4)")
    parser.add_argument("--receivers", type=int, default=None,
                        help="number of receivers (default one per 2 grid columns)")
    parser.add_argument("--f0", type=float, default=5.0, help="Ricker peak frequency, Hz")
    parser.add_argument("--t-max", type=float, default=None,
                        help="recording length, s (default: 2 x model diagonal / min velocity)")
    parser.add_argument("-k", type=int, default=20, help="number of eigenvalues (default 20)")
    parser.add_argument("--representations", nargs="+", default=list(DEFAULT_REPRESENTATIONS),
                        choices=NAMES, metavar="NAME",
                        help=f"representations ({', '.join(NAMES)}); default "
                             f"{' '.join(DEFAULT_REPRESENTATIONS)}")
    parser.add_argument("--encoding", action="store_true",
                        help="also the NTK over the encoding parameters only (grid tables, "
                             "IG tables + sine branch)")
    parser.add_argument("--coarsen", type=int, default=1,
                        help="keep every n-th model sample along x and z (default 1)")
    parser.add_argument("--method", choices=("lanczos", "randomized"), default="lanczos",
                        help="eigen-solver (default lanczos)")
    parser.add_argument("--tol", type=float, default=1e-6, help="Lanczos tolerance")
    parser.add_argument("--seed", type=int, default=0, help="seed of the networks and solver")
    parser.add_argument("--space-order", type=int, default=8, help="stencil order (default 8)")
    parser.add_argument("--netcdf", type=Path, default=None,
                        help="also write the spectra dataset as netCDF")
    parser.set_defaults(func=run_ntk)
    return parser


def _survey(vp, args):
    from ..physics import Survey

    nx = vp.sizes["x"]
    receivers = args.receivers or max(2, nx // 2)
    t_max = args.t_max
    if t_max is None:
        x, z = np.asarray(vp["x"]), np.asarray(vp["z"])
        diagonal = float(np.hypot(x[-1] - x[0], z[-1] - z[0]))
        t_max = 2.0 * diagonal / float(np.min(vp.values))
    return Survey.surface(vp, n_shots=args.shots, n_receivers=receivers, f0=args.f0,
                          t_max=t_max)


def format_table(ds) -> str:
    """One line per kernel: parameters, λ_1, λ_k/λ_1, mean log10 decay, products, seconds."""
    k = ds.sizes["mode"]
    normalised = bool(ds.attrs.get("normalised", 1))
    lines = [f"{'kernel':<22} {'P':>9} {'lambda_1':>11} {f'l_{k}/l_1':>10} "
             f"{'mean log10':>10} {'products':>8} {'s':>7}"]
    for name in ds["kernel"].values:
        row = ds.sel(kernel=name)
        last = float(row["eigenvalues"][-1]) / (1.0 if normalised else float(row["lambda_1"]))
        lines.append(
            f"{name:<22} {int(row['n_parameters']):>9d} {float(row['lambda_1']):>11.4e} "
            f"{last:>10.3e} {float(row['mean_log10_decay']):>10.3f} "
            f"{int(row['products']):>8d} {float(row['seconds']):>7.1f}"
        )
    return "\n".join(lines)


def run_ntk(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import xarray as xr

    from .. import io
    from ..bridge import WaveOperator
    from ..ntk.spectrum import compare_spectra, plot_spectra

    if args.k < 1:
        raise ValueError(f"-k must be >= 1, got {args.k}")
    if args.coarsen < 1:
        raise ValueError(f"--coarsen must be >= 1, got {args.coarsen}")
    vp = io.read_segy(args.model)
    if args.coarsen > 1:
        vp = vp.isel(x=slice(None, None, args.coarsen), z=slice(None, None, args.coarsen))
    survey = _survey(vp, args)
    op = WaveOperator(survey, vp, space_order=args.space_order)
    print(f"model {vp.sizes['x']} x {vp.sizes['z']}, {survey.n_shots} shots x "
          f"{survey.n_receivers} receivers x {survey.nt} samples, f0 = {survey.f0:g} Hz")
    common = dict(k=args.k, method=args.method, tol=args.tol, seed=args.seed)
    ds = compare_spectra(op, vp, tuple(args.representations), **common)
    encoded = [n for n in args.representations if n in ENCODING_PARAMETERS]
    if args.encoding and encoded:
        extra = compare_spectra(op, vp, tuple(encoded), include_wave=False,
                                parameters=ENCODING_PARAMETERS, **common)
        ds = xr.concat([ds, extra], dim="kernel", combine_attrs="override")
    print(format_table(ds))
    fig = plot_spectra(ds, title=f"{Path(args.model).name}: kernel eigenvalue decay")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")
    if args.netcdf is not None:
        ds.to_netcdf(args.netcdf)
        print(f"wrote {args.netcdf}")
    return 0
