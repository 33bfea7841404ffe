"""``devito-crfwi invert CONFIG.toml``: CR-FWI of SEG-Y shot gathers set up by a TOML file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..io.atomic import check_target, check_writable_folder
from ..io.config import FULL_BAND, check_table, read_toml
from ..physics import EngineSettings
from .errors import CLIError
from .outputs import output_names, report, write_outputs

INVERT_HELP = """\
The TOML configuration (paths are relative to the file):

  observed = "shots.sgy"        # required: shot gathers (read_shots); they fix the survey
  mask_dead_traces = false      # optional: read all-zero (dead) traces as missing
  initial = "initial.sgy"       # required: initial model (read_segy)
  true_model = "true.sgy"       # optional: report MSE/RMSE/PSNR/SSIM against it
  output_dir = "invert_output"  # optional: default; --output-dir wins
  f0 = 6.0                      # Hz, the source's peak; default the file's f0, else its wavelet's
  initial_smooth = 300.0        # optional: smooth the initial model first (sigma, m)
  water_velocity = 1500.0       # optional: hold the initial model's water layer fixed

  [inversion]                   # all optional; see devito_crfwi.CRFWIProblem
  representation = "ig"         # pixel | inr | fourier | grid | ig | lowrank
  iterations = 100
  loss = "l2"                   # l2 | l2_tracenorm | l1 | ncc | huber | envelope | wasserstein
  optimizer = "adam"            # adam | adamw | sgd | rmsprop | lbfgs
  lr = 1e-3                     # default: the representation's default rate
  shots_per_iteration = 4       # default: all shots
  frequency_schedule = [[3.0, 30], [6.0, 30], ["full", 40]]   # (cutoff Hz, iterations)
  bounds = [1400.0, 5000.0]     # m/s; default 0.8 min(initial) .. 1.25 max(initial)
  seed = 0
  wavelet = "survey"            # survey | estimate (least-squares source in the current model)
  wavelet_every = 20            # with "estimate": also re-estimate every N iterations
  checkpoint_dir = "checkpoints"
  checkpoint_every = 10
  resume = false

  [representation_options]      # keyword arguments of the representation, e.g. alpha = 0.5
  [regularization]              # optional model terms: kind = weight, or a table
  tv = 1e-2                     # tv | tikhonov1 | tikhonov2
  tikhonov2 = { weight = 1e-3 } # tv also takes epsilon (default 0.01)
  [engine]                      # space_order, boundary_width, free_surface, dt, checkpoints,
                                # memory_limit, subsample (devito_crfwi.physics.EngineSettings)

Writes inverted.sgy, history.csv (iteration, loss, time, cutoff, misfit and regularisation
terms, metrics), summary.png and, with wavelet = "estimate", wavelet.csv (time in s, then one
column per estimate, named by the iteration it was made before) into the output folder; if
one of them exists already, the run is refused before the inversion unless --overwrite is
given. A checkpoint_dir of an earlier run needs resume = true.
"""

# The keys of each table and their kinds (devito_crfwi.io.config.KINDS).
_TOP_SCHEMA = {"observed": "str", "initial": "str", "true_model": "str", "output_dir": "str",
               "mask_dead_traces": "bool", "f0": "number", "initial_smooth": "number",
               "water_velocity": "number",
               "inversion": "table", "representation_options": "table",
               "regularization": "table", "engine": "table"}
_INVERSION_SCHEMA = {"representation": "str", "iterations": "int", "loss": "str",
                     "optimizer": "str", "lr": "number", "shots_per_iteration": "int",
                     "frequency_schedule": "schedule", "bounds": "number_pair", "seed": "int",
                     "wavelet": "str", "wavelet_every": "int",
                     "checkpoint_dir": "str", "checkpoint_every": "int", "resume": "bool"}


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
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_invert)
    return parser


def load_config(path: Path) -> dict[str, Any]:
    """Read and check an ``invert`` configuration; paths are resolved against its folder.

    Every key is checked for its name and type (the file, table and key are named in the
    error); a frequency schedule's full band is spelled ``"full"`` as in the benchmark configs.
    """
    config = read_toml(path)
    check_table(config, _TOP_SCHEMA, str(path), required=("observed", "initial"))
    inversion = config.get("inversion", {})
    check_table(inversion, _INVERSION_SCHEMA, f"{path} [inversion]")
    if "wavelet" in inversion or "wavelet_every" in inversion:
        from ..inversion.settings import check_wavelet

        try:  # CRFWIProblem's own checks: a known source, re-estimates only of an estimate
            check_wavelet(inversion.get("wavelet", "survey"), inversion.get("wavelet_every"))
        except ValueError as err:
            raise CLIError(f"{path} [inversion]: {err}") from None
    engine = config.get("engine", {})
    if "vmax" in engine:
        raise CLIError(f"{path} [engine]: unknown key(s) ['vmax']: the highest velocity is "
                       "[inversion] bounds[1]")
    if "regularization" in config:  # its own checks: kinds, weights and options
        from ..inversion.regularization import parse_regularization

        try:
            parse_regularization(config["regularization"])
        except (TypeError, ValueError) as err:
            raise CLIError(f"{path} [regularization]: {err}") from None
    try:  # the engine's own checks: names and types of its fields
        EngineSettings.create(**engine)
    except (TypeError, ValueError) as err:
        raise CLIError(f"{path} [engine]: {err}") from None
    if "representation_options" in config:
        from ..inversion.settings import check_representation_options
        from ..representations import REGISTRY

        name = config.get("inversion", {}).get("representation", "ig")
        try:  # the options of the named representation (CRFWIProblem names a wrong name)
            check_representation_options(name if name in REGISTRY else None,
                                         config["representation_options"])
        except TypeError as err:
            raise CLIError(f"{path} [representation_options]: {err}") from None
    base = path.resolve().parent
    for key in ("observed", "initial", "true_model", "output_dir"):
        if key in config:
            config[key] = base / config[key]
    inversion = config.setdefault("inversion", {})
    if "checkpoint_dir" in inversion:
        inversion["checkpoint_dir"] = base / inversion["checkpoint_dir"]
    if "frequency_schedule" in inversion:
        inversion["frequency_schedule"] = [
            (None if cutoff == FULL_BAND else cutoff, n)
            for cutoff, n in inversion["frequency_schedule"]
        ]
    if inversion.get("iterations", 1) < 1:
        raise CLIError(f"{path} [inversion]: iterations must be >= 1, "
                       f"got {inversion['iterations']}")
    return config


def run_invert(args: argparse.Namespace) -> int:
    from .. import initial_models as models
    from .. import io
    from ..inversion import CRFWIProblem
    from ..physics import Survey

    if args.iterations is not None and args.iterations < 1:  # 0 is an answer, not "unset"
        raise CLIError(f"--iterations must be >= 1, got {args.iterations}")
    config = load_config(args.config)
    out = Path(args.output_dir or config.get("output_dir")
               or args.config.resolve().parent / "invert_output")
    # Fail on an unwritable or earlier run's output before the inversion, not after it.
    check_writable_folder(out, "output_dir")
    inversion = dict(config["inversion"])
    for name in output_names(inversion.get("wavelet", "survey")):
        check_target(out / name, overwrite=args.overwrite)
    observed = io.read_shots(config["observed"],
                             mask_dead_traces=config.get("mask_dead_traces", False))
    survey = Survey.from_shots(observed, config.get("f0"))
    initial = io.read_segy(config["initial"])
    if "initial_smooth" in config:
        initial = models.smooth(initial, config["initial_smooth"])
    true = io.read_segy(config["true_model"]) if "true_model" in config else None
    mask = None
    if "water_velocity" in config:
        mask = models.water_mask(initial, config["water_velocity"])
    iterations = inversion.pop("iterations", 100)
    if args.iterations is not None:
        iterations = args.iterations
    solve_options = {k: inversion.pop(k) for k in ("checkpoint_dir", "checkpoint_every", "resume")
                     if k in inversion}
    if "bounds" in inversion:
        inversion["bounds"] = tuple(inversion["bounds"])
    problem = CRFWIProblem(
        observed, survey, initial, inversion.pop("representation", "ig"),
        water_mask=mask, true_model=true,
        representation_options=config.get("representation_options") or None,
        regularization=config.get("regularization"),
        **inversion, **config.get("engine", {}),
    )
    print(f"inverting {config['observed'].name}: {survey.n_shots} shots, "
          f"{survey.n_receivers} receivers, {iterations} iterations of "
          f"{problem.representation_name!r}")
    result = problem.solve(iterations, progress=not args.no_progress, **solve_options)
    print(f"loss {result['loss'].values[0]:.4g} -> {result['loss'].values[-1]:.4g}")
    report(result)
    write_outputs(result, out, true, initial)
    return 0
