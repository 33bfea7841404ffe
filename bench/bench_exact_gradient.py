"""Default gradient storage against every step stored (issue 26), on the paper's Marmousi set-up.

288 x 94 cells at 15 m (``bench/protocol``'s resampling of the shared Marmousi), free
surface, Ricker 8 Hz, 1.9 s recorded at 1.9 ms, 4 shots (columns 20, 80, 140, 200),
receivers on every column; gradients at the protocol's smooth start (sigma 300 m, water
kept) through ``WaveOperator``, float32 as in the protocol. For each misfit it prints the
relative L2 gradient error against ``subsample=1`` of

* the subsampled tape alone (``subsample=k``, k the auto factor: the default before), and
* the default (``"auto"``: such shots are recorded again with every step stored),

and the seconds per forward + backward (best of ``--repeats``) and tape bytes of the three.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/bench_exact_gradient.py
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from devito_crfwi import WaveOperator
from devito_crfwi.experiments.scenarios import add_noise, prepare_model, survey_of
from devito_crfwi.initial_models import smooth, water_mask
from devito_crfwi.inversion.losses import l2_tracenorm_loss, ncc_loss

MODELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "models"
SPEC = dict(shape=[288, 94], spacing=15.0, f0=8.0, t_max=1.9, dt=0.0019, n_shots=4,
            first_shot_column=20, shot_step_columns=60, source_depth=15.0,
            receiver_depth=30.0)


def l2(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """0.5 ||pred - obs||²: its adjoint source is the residual."""
    return 0.5 * (pred - obs).square().sum()


def gradient(op: WaveOperator, vp0: np.ndarray, loss, observed: torch.Tensor
             ) -> tuple[np.ndarray, float]:
    """(d loss / d vp (x, z), seconds for the forward and backward)."""
    vp = torch.tensor(vp0, requires_grad=True)
    start = time.perf_counter()
    loss(op(vp), observed).backward()
    return vp.grad.numpy().astype(np.float64), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per engine")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    vp = prepare_model("marmousi", SPEC, str(MODELS))
    survey = survey_of(vp, SPEC)
    vp0 = smooth(vp, 300.0, keep=np.asarray(water_mask(vp))).values
    auto = WaveOperator(survey, vp, free_surface=True)
    k = auto.propagator().subsample
    ops = {"subsampled tape (before)": WaveOperator(survey, vp, free_surface=True, subsample=k),
           "default (auto)": auto,
           "every step (subsample=1)": WaveOperator(survey, vp, free_surface=True, subsample=1)}
    exact = ops["every step (subsample=1)"]
    with torch.no_grad():
        clean = exact(torch.tensor(vp.values))
    noisy = torch.from_numpy(add_noise(clean.numpy(), sigma=8.0, seed=0))
    prop = auto.propagator()
    print(f"{SPEC['shape'][0]} x {SPEC['shape'][1]} at 15 m, {survey.n_shots} shots, "
          f"{prop.nt - 2} steps of {prop.dt * 1e3:.3f} ms, auto factor k = {k}\n")
    print("| misfit | aliased fraction (max over shots) | error, subsampled tape | "
          "error, default | shots recorded again |")
    print("| --- | ---: | ---: | ---: | ---: |")
    cases = [("L2, clean", l2, clean), ("L2, 8 sigma0 noise", l2, noisy),
             ("NCC, clean", ncc_loss, clean), ("NCC, 8 sigma0 noise", ncc_loss, noisy),
             ("trace-normalised L2, clean", l2_tracenorm_loss, clean)]
    seconds = {name: [] for name in ops}
    for label, loss, observed in cases:
        grads = {}
        before = prop.exact_recordings
        for name, op in ops.items():
            grads[name], elapsed = gradient(op, vp0, loss, observed)
            seconds[name].append(elapsed)
        with torch.no_grad():
            data = auto(torch.tensor(vp0)).requires_grad_(True)
        loss(data, observed).backward()  # data.grad: the adjoint source
        fraction = prop.aliased_fraction(data.grad.numpy()).max()
        reference = grads["every step (subsample=1)"]
        errors = [np.linalg.norm(grads[name] - reference) / np.linalg.norm(reference)
                  for name in ("subsampled tape (before)", "default (auto)")]
        print(f"| {label} | {fraction:.2g} | {errors[0]:.2g} | {errors[1]:.2g} | "
              f"{prop.exact_recordings - before} of {survey.n_shots} |")
    for _ in range(args.repeats):  # timed: L2 with noise (every shot recorded again)
        for name, op in ops.items():
            seconds[name].append(gradient(op, vp0, l2, noisy)[1])
    print("\n| engine | s per forward + backward (best) | tape bytes (MiB) |")
    print("| --- | ---: | ---: |")
    n = survey.n_shots
    for name, op in ops.items():
        p = op.propagator()
        tapes = p.memory_plan(n).bytes_per_call
        if name == "default (auto)":
            tapes += p.exact().memory_plan(1).bytes_per_call  # the one exact tape
        print(f"| {name} | {min(seconds[name][-args.repeats:]):.2f} | {tapes / 2**20:.0f} |")


if __name__ == "__main__":
    main()
