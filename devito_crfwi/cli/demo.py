"""``devito-crfwi demo``: IG-FWI on the bundled sample model, a few minutes on 2 cores."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .errors import CLIError
from .outputs import report, write_outputs

# The demo: the bundled 200 x 80 model at 20 m, decimated to 40 m, a 3 Hz surface survey and
# IG-FWI from a 300 m smoothed model (water kept). Sized to run in a few minutes on 2 cores.
DEMO = {
    "coarsen": 2,
    "shots": 8,
    "f0": 3.0,
    "t_max": 3.0,
    "sigma": 300.0,
    "iterations": 120,
    "shots_per_iteration": 4,
    "representation": "ig",
    "lr": 3e-3,
    "representation_options": {"sine_features": 64, "hidden_features": 64},
}


def add_demo_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="IG-FWI on the bundled layered/salt model (a few minutes)",
        description=(
            "Model shots over the bundled layered_salt.sgy (decimated to 40 m), invert them "
            "with IG-FWI from a smoothed model, print MSE/SSIM before and after, and write "
            "inverted.sgy and summary.png."
        ),
    )
    parser.add_argument("--output-dir", type=Path, default=Path("demo_output"),
                        help="folder for the outputs (default demo_output)")
    parser.add_argument("--model", type=Path, default=None,
                        help="another SEG-Y model instead of the bundled sample")
    parser.add_argument("--iterations", type=int, default=DEMO["iterations"],
                        help=f"iterations (default {DEMO['iterations']})")
    parser.add_argument("--representation", default=DEMO["representation"],
                        help=f"representation name (default {DEMO['representation']})")
    parser.add_argument("--coarsen", type=int, default=DEMO["coarsen"],
                        help=f"keep every n-th cell on each axis (default {DEMO['coarsen']})")
    parser.add_argument("--shots", type=int, default=DEMO["shots"],
                        help=f"number of shots (default {DEMO['shots']})")
    parser.add_argument("--f0", type=float, default=DEMO["f0"],
                        help=f"Ricker peak frequency, Hz (default {DEMO['f0']})")
    parser.add_argument("--t-max", type=float, default=DEMO["t_max"],
                        help=f"recording length, s (default {DEMO['t_max']})")
    parser.add_argument("--sigma", type=float, default=DEMO["sigma"],
                        help=f"smoothing of the initial model, m (default {DEMO['sigma']:g})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_demo)
    return parser


def run_demo(args: argparse.Namespace) -> int:
    from .. import initial_models as models
    from .. import io
    from ..bridge.modelling import simulate
    from ..inversion import CRFWIProblem
    from ..physics import Survey

    start = time.perf_counter()
    path = args.model or io.sample_path("layered_salt.sgy")
    if not path.exists():
        raise CLIError(f"{path} not found: pass --model <file.sgy>")
    if args.coarsen < 1:
        raise CLIError(f"--coarsen must be >= 1, got {args.coarsen}")
    vp = io.read_segy(path)
    vp = vp.isel(x=slice(None, None, args.coarsen), z=slice(None, None, args.coarsen))
    dx = float(vp.x[1] - vp.x[0])
    print(f"model {path.name}: {vp.sizes['x']} x {vp.sizes['z']} cells at {dx:g} m, "
          f"{float(vp.min()):g}-{float(vp.max()):g} m/s")
    survey = Survey.surface(vp, n_shots=args.shots, n_receivers=vp.sizes["x"], f0=args.f0,
                            t_max=args.t_max)
    observed = simulate(vp, survey, progress=not args.no_progress)
    initial = models.smooth(vp, args.sigma, keep=models.water_mask(vp))
    options = DEMO["representation_options"] if args.representation == "ig" else {}
    problem = CRFWIProblem(
        observed, survey, initial, args.representation,
        lr=DEMO["lr"] if args.representation == "ig" else None,
        shots_per_iteration=min(DEMO["shots_per_iteration"], args.shots),
        water_mask=True, true_model=vp, seed=args.seed, representation_options=options,
    )
    print(f"inverting {args.shots} shots ({problem.shots_per_iteration} per iteration), "
          f"f0 {args.f0:g} Hz, {args.iterations} iterations of {args.representation!r}")
    result = problem.solve(args.iterations, progress=not args.no_progress)
    report(result)
    write_outputs(result, args.output_dir, vp, initial)
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0
