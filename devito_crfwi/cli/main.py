"""The ``devito-crfwi`` command line: demo, simulate, invert, convert (and ntk when present).

Each subcommand has ``--help``. ``main(argv)`` returns the exit status: 0 on success, 1 with a
one-line message on stderr when the inputs are wrong, 2 for usage errors (argparse).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PROG = "devito-crfwi"

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

INVERT_HELP = """\
The TOML configuration (paths are relative to the file):

  observed = "shots.sgy"        # required: shot gathers (read_shots); they fix the survey
  initial = "initial.sgy"       # required: initial model (read_segy)
  true_model = "true.sgy"       # optional: report MSE/RMSE/PSNR/SSIM against it
  output_dir = "invert_output"  # optional: default; --output-dir wins
  f0 = 6.0                      # Hz, Ricker peak of the source; default the shot file's f0
  initial_smooth = 300.0        # optional: smooth the initial model first (sigma, m)
  water_velocity = 1500.0       # optional: hold the initial model's water layer fixed

  [inversion]                   # all optional; see devito_crfwi.CRFWIProblem
  representation = "ig"         # pixel | inr | fourier | grid | ig | lowrank
  iterations = 100
  loss = "l2"                   # l2 | l1 | ncc
  optimizer = "adam"            # adam | adamw | sgd | rmsprop | lbfgs
  lr = 1e-3                     # default: the representation's default rate
  shots_per_iteration = 4       # default: all shots
  frequency_schedule = [[3.0, 30], [6.0, 30], ["full", 40]]   # (cutoff Hz, iterations)
  bounds = [1400.0, 5000.0]     # m/s; default 0.8 min(initial) .. 1.25 max(initial)
  seed = 0
  checkpoint_dir = "checkpoints"
  checkpoint_every = 10
  resume = false

  [representation_options]      # keyword arguments of the representation, e.g. alpha = 0.5
  [engine]                      # space_order, boundary_width, free_surface, dt, checkpoints,
                                # memory_limit (see devito_crfwi.WaveOperator)

Writes inverted.sgy, history.csv (iteration, loss, time and metrics) and summary.png into the
output folder.
"""

_TOP_KEYS = {"observed", "initial", "true_model", "output_dir", "f0", "initial_smooth",
             "water_velocity", "inversion", "representation_options", "engine"}
_INVERSION_KEYS = {"representation", "iterations", "loss", "optimizer", "lr",
                   "shots_per_iteration", "frequency_schedule", "bounds", "seed",
                   "checkpoint_dir", "checkpoint_every", "resume"}
_ENGINE_KEYS = {"space_order", "boundary_width", "free_surface", "dt", "checkpoints",
                "memory_limit"}


class CLIError(Exception):
    """A wrong input: reported on stderr as one line, exit status 1."""


# -- helpers ------------------------------------------------------------------------------
def survey_from_shots(observed, f0: float | None = None):
    """The :class:`~devito_crfwi.Survey` that recorded gathers read with ``read_shots``.

    Positions come from the coords, dt and t_max from the time axis, ``f0`` (Hz) from the
    argument or ``observed.attrs["f0"]``; the source is a Ricker wavelet of ``f0``.
    """
    from ..physics import Survey

    f0 = observed.attrs.get("f0") if f0 is None else f0
    if f0 is None:
        raise CLIError("the shot file does not state f0: give f0 (Hz) in the configuration")
    time_axis = np.asarray(observed["time"], dtype=np.float64)
    dt = float(observed.attrs.get("dt", time_axis[1] - time_axis[0]))
    sources = np.stack([np.asarray(observed["source_x"]), np.asarray(observed["source_z"])], -1)
    receivers = np.stack(
        [np.asarray(observed["receiver_x"]), np.asarray(observed["receiver_z"])], -1
    )
    return Survey(sources, receivers, f0=float(f0), t_max=float(time_axis[-1]), dt=dt)


def _metrics_line(label: str, scores: dict[str, float]) -> str:
    return (f"{label:>9}: MSE {scores['mse']:.4g} (m/s)^2, RMSE {scores['rmse']:.1f} m/s, "
            f"PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}")


def _write_history(result, path: Path) -> None:
    names = [n for n in ("loss", "time", "cutoff", "mse", "rmse", "psnr", "ssim") if n in result]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iteration", *names])
        for i, it in enumerate(np.asarray(result["iteration"])):
            writer.writerow([int(it), *(repr(float(result[n].values[i])) for n in names)])


def _write_outputs(result, out: Path, true, initial) -> None:
    from ..io import write_segy
    from ..plot import save_summary_figure

    out.mkdir(parents=True, exist_ok=True)
    write_segy(result["vp"], out / "inverted.sgy", overwrite=True)
    _write_history(result, out / "history.csv")
    save_summary_figure(out / "summary.png", true, initial, result)
    print(f"wrote {out / 'inverted.sgy'}, {out / 'history.csv'} and {out / 'summary.png'}")


def _report(result) -> None:
    if "ssim" not in result:
        return
    before = {k: result.attrs[f"initial_{k}"] for k in ("mse", "rmse", "psnr", "ssim")}
    after = {k: float(result[k].values[-1]) for k in ("mse", "rmse", "psnr", "ssim")}
    print(_metrics_line("before", before))
    print(_metrics_line("after", after))


# -- demo ---------------------------------------------------------------------------------
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
    _report(result)
    _write_outputs(result, args.output_dir, vp, initial)
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0


# -- simulate -----------------------------------------------------------------------------
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


# -- invert -------------------------------------------------------------------------------
def add_invert_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "invert",
        help="CR-FWI of SEG-Y shot gathers from a TOML configuration",
        description="Invert SEG-Y shot gathers with CRFWIProblem, set up by a TOML file.",
        epilog=INVERT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="TOML configuration (keys below)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="output folder (default: output_dir of the file, else "
                             "invert_output next to it)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="override [inversion] iterations")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_invert)
    return parser


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CLIError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def load_config(path: Path) -> dict[str, Any]:
    """Read and check an ``invert`` configuration; paths are resolved against its folder."""
    import tomllib  # Python >= 3.11

    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as err:
        raise CLIError(f"cannot read {path}: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise CLIError(f"{path} is not valid TOML: {err}") from err
    _check_keys(config, _TOP_KEYS, str(path))
    for table, allowed in (("inversion", _INVERSION_KEYS), ("engine", _ENGINE_KEYS)):
        if not isinstance(config.get(table, {}), dict):
            raise CLIError(f"{path}: [{table}] must be a table")
        _check_keys(config.get(table, {}), allowed, f"[{table}] of {path}")
    if not isinstance(config.get("representation_options", {}), dict):
        raise CLIError(f"{path}: [representation_options] must be a table")
    for key in ("observed", "initial"):
        if key not in config:
            raise CLIError(f"{path}: the key {key!r} (a SEG-Y file) is required")
    base = path.resolve().parent
    for key in ("observed", "initial", "true_model", "output_dir"):
        if key in config:
            config[key] = base / config[key]
    inversion = config.setdefault("inversion", {})
    if "checkpoint_dir" in inversion:
        inversion["checkpoint_dir"] = base / inversion["checkpoint_dir"]
    if "frequency_schedule" in inversion:
        inversion["frequency_schedule"] = [
            (None if cutoff == "full" else cutoff, n)
            for cutoff, n in inversion["frequency_schedule"]
        ]
    return config


def run_invert(args: argparse.Namespace) -> int:
    from .. import initial_models as models
    from .. import io
    from ..inversion import CRFWIProblem

    config = load_config(args.config)
    inversion = dict(config["inversion"])
    observed = io.read_shots(config["observed"])
    survey = survey_from_shots(observed, config.get("f0"))
    initial = io.read_segy(config["initial"])
    if "initial_smooth" in config:
        initial = models.smooth(initial, config["initial_smooth"])
    true = io.read_segy(config["true_model"]) if "true_model" in config else None
    mask = None
    if "water_velocity" in config:
        mask = models.water_mask(initial, config["water_velocity"])
    iterations = args.iterations or inversion.pop("iterations", 100)
    inversion.pop("iterations", None)
    solve_options = {k: inversion.pop(k) for k in ("checkpoint_dir", "checkpoint_every", "resume")
                     if k in inversion}
    if "bounds" in inversion:
        inversion["bounds"] = tuple(inversion["bounds"])
    problem = CRFWIProblem(
        observed, survey, initial, inversion.pop("representation", "ig"),
        water_mask=mask, true_model=true,
        representation_options=config.get("representation_options") or None,
        **inversion, **config.get("engine", {}),
    )
    print(f"inverting {config['observed'].name}: {survey.n_shots} shots, "
          f"{survey.n_receivers} receivers, {iterations} iterations of "
          f"{problem.representation_name!r}")
    result = problem.solve(iterations, progress=not args.no_progress, **solve_options)
    print(f"loss {result['loss'].values[0]:.4g} -> {result['loss'].values[-1]:.4g}")
    _report(result)
    out = args.output_dir or config.get("output_dir") or args.config.resolve().parent / (
        "invert_output")
    _write_outputs(result, Path(out), true, initial)
    return 0


# -- main ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from ..io import add_convert_parser

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Continuous-representation full-waveform inversion (CR-FWI) on Devito.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="command", required=True)
    add_demo_parser(subparsers)
    add_simulate_parser(subparsers)
    add_invert_parser(subparsers)
    add_convert_parser(subparsers)
    # The ntk subcommand lives with the NTK tools; the CLI works without it.
    try:
        from .ntk import add_ntk_parser
    except ImportError:
        pass
    else:
        add_ntk_parser(subparsers)
    # The benchmark subcommand (the paper's comparisons) lives in devito_crfwi.experiments.
    try:
        from ..experiments.runner import add_benchmark_parser
    except ImportError:
        pass
    else:
        add_benchmark_parser(subparsers)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from ..io import SegyError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, SegyError, ValueError, TypeError, OSError, FloatingPointError) as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
