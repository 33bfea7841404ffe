"""CRFWIProblem: convergence, results, callbacks, checkpoint/resume after SIGKILL, NaN, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import xarray as xr

from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.checkpoint import CHECKPOINT_NAME
from devito_crfwi.inversion.filters import butterworth
from devito_crfwi.inversion.losses import l1_loss, l2_loss, l2_tracenorm_loss, ncc_loss
from devito_crfwi.inversion.problem import CRFWIProblem
from devito_crfwi.representations import Pixel
from tests.helpers import ROOT, model_dataarray, resume_problem

# A small IG network: the paper's sizes cost seconds per step even on a 40 x 30 grid.
SMALL_IG = {
    "grid": {"n_levels": 4, "base_resolution": 8, "growth": 1.5},
    "sine_features": 32,
    "hidden_features": 32,
}


@pytest.fixture(scope="module")
def initial(layered):
    return smooth(layered, 80.0)


# -- convergence and results ------------------------------------------------------------------
@pytest.mark.parametrize("name, options, lr", [("pixel", {}, None), ("ig", SMALL_IG, 3e-3)])
def test_solve_lowers_the_misfit_and_improves_the_model(
    name, options, lr, layered, initial, crosswell_survey, crosswell_observed
):
    calls = []
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, name, true_model=layered,
                           representation_options=options, lr=lr)
    result = problem.solve(
        12, progress=False, callback=lambda p, i, loss: calls.append((p, i, loss))
    )
    loss = result["loss"].values
    assert loss[-1] < 0.6 * loss[0]
    assert result["ssim"].values[-1] > result.attrs["initial_ssim"]
    assert result["mse"].values[-1] < 0.9 * result.attrs["initial_mse"]
    # Callback protocol: (problem, iteration, loss) after every step.
    assert [i for _, i, _ in calls] == list(range(12))
    assert all(p is problem for p, _, _ in calls)
    np.testing.assert_allclose([loss for *_, loss in calls], loss)
    # The result.
    assert result["vp"].dims == ("x", "z") and result["vp"].shape == layered.shape
    np.testing.assert_array_equal(result["vp"].values, problem.current_model().values)
    for var in ("loss", "time", "mse", "rmse", "psnr", "ssim"):
        assert result[var].dims == ("iteration",) and result.sizes["iteration"] == 12
    assert np.all(result["time"].values > 0)
    json.dumps(result.attrs)
    assert result.attrs["representation"] == name
    assert result.attrs["bounds"][1] == problem.operator.propagator().vmax
    vmin, vmax = result.attrs["bounds"]
    assert vmin <= float(result["vp"].min()) and float(result["vp"].max()) <= vmax


def test_defaults_bounds_lr_and_water(layered, initial, crosswell_survey, crosswell_observed):
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                           water_mask=initial.values < 2050.0)
    lo, hi = float(initial.min()), float(initial.max())
    assert problem.bounds == pytest.approx((0.8 * lo, 1.25 * hi))
    assert problem.operator.propagator().vmax == pytest.approx(1.25 * hi)
    assert problem.lr == 1e-2
    problem.solve(2, progress=False)
    vp = problem.current_model().values
    mask = initial.values < 2050.0
    np.testing.assert_array_equal(vp[mask], initial.values[mask])
    assert not np.allclose(vp[~mask], initial.values[~mask])
    # solve() continues to a total: 2 done, 3 more make 5.
    assert problem.solve(5, progress=False).sizes["iteration"] == 5


def test_callback_dataset_is_merged_and_lists_are_accepted(initial, crosswell_survey,
                                                           crosswell_observed):
    class Recorder:
        def __init__(self):
            self.norms = []

        def __call__(self, problem, iteration, loss):
            self.norms.append(float(problem.current_model().std()))

        def dataset(self):
            return xr.Dataset({"model_std": ("iteration", self.norms)},
                              coords={"iteration": np.arange(len(self.norms))})

    seen = []
    recorder = Recorder()
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel", loss="ncc",
                           optimizer="sgd", lr=1e-2)
    result = problem.solve(3, progress=False, callback=[recorder, lambda *a: seen.append(a[1])])
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(result["model_std"].values, recorder.norms)
    assert result.attrs["loss"] == "ncc" and result.attrs["optimizer"] == "sgd"


def test_frequency_schedule_and_mini_batches(initial, crosswell_survey, crosswell_observed):
    batches = []
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                           shots_per_iteration=1, frequency_schedule=[(8.0, 2), (None, 1)])
    original = problem.operator.forward

    def spy(vp, shots=None):
        batches.append(shots)
        return original(vp, shots)

    problem.operator.forward = spy
    result = problem.solve(4, progress=False)
    np.testing.assert_array_equal(result["cutoff"].values, [8.0, 8.0, np.nan, np.nan])
    assert all(len(b) == 1 and 0 <= b[0] < 3 for b in batches) and len(batches) == 4
    assert np.all(np.isfinite(result["loss"].values))
    assert json.loads(result.attrs["frequency_schedule"]) == [[8.0, 2], [None, 1]]


def test_epoch_shot_order_uses_every_shot_once_per_pass(initial, crosswell_survey,
                                                        crosswell_observed):
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                           shots_per_iteration=1, shot_order="epoch", seed=3)
    draws = []
    for it in range(9):  # three passes over the 3 shots, drawn as solve() would
        problem.iteration = it
        draws.append(problem._draw_shots())
    passes = [sorted(s[0] for s in draws[i:i + 3]) for i in range(0, 9, 3)]
    assert passes == [[0, 1, 2]] * 3
    assert len({tuple(s[0] for s in draws[i:i + 3]) for i in range(0, 9, 3)}) > 1  # reshuffled
    # The draw depends on (seed, iteration) only: a new problem at iteration 4 draws the same.
    again = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                         shots_per_iteration=1, shot_order="epoch", seed=3)
    again.iteration = 4
    assert again._draw_shots() == draws[4]
    # Two shots per iteration: the batch that straddles two passes still has distinct shots
    # only when the passes differ; every shot appears twice in 3 iterations of 2.
    pairs = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                         shots_per_iteration=2, shot_order="epoch", seed=3)
    seen = []
    for it in range(3):
        pairs.iteration = it
        seen += pairs._draw_shots()
    assert sorted(seen) == [0, 0, 1, 1, 2, 2]


def test_custom_module_loss_and_lbfgs(layered, initial, crosswell_survey, crosswell_observed):
    module = Pixel(initial.values, vmin=1500.0, vmax=3200.0)
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, module,
                           loss=lambda p, o: ((p - o) ** 2).mean(), optimizer="lbfgs")
    assert problem.bounds == (1500.0, 3200.0) and problem.lr == 1.0
    result = problem.solve(2, progress=False)
    assert result["loss"].values[1] < result["loss"].values[0]
    assert result.attrs["representation"] == "pixel" and result.attrs["loss"] == "<lambda>"


@pytest.mark.parametrize("loss", ["huber", "envelope", "wasserstein"])
def test_robust_misfits_drive_an_inversion(initial, crosswell_survey, crosswell_observed, loss):
    """The field-data misfits through the bridge: finite, and the first step lowers them."""
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel", loss=loss,
                           optimizer="lbfgs")
    values = problem.solve(2, progress=False)["loss"].values
    assert np.isfinite(values).all() and values[1] < values[0], values


# -- losses and filter ------------------------------------------------------------------------
def test_losses_and_lowpass():
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(2, 50, 3, generator=gen)
    for fn in (l2_loss, l2_tracenorm_loss, l1_loss, ncc_loss):
        assert float(fn(obs, obs)) == pytest.approx(0.0, abs=1e-6)
        assert float(fn(obs + 0.5 * torch.randn(2, 50, 3, generator=gen), obs)) > 0.01
    assert float(ncc_loss(3.0 * obs, obs)) == pytest.approx(0.0, abs=1e-6)  # amplitude-blind
    dt, t = 0.002, torch.arange(400) * 0.002
    low = torch.sin(2 * torch.pi * 5.0 * t)
    high = torch.sin(2 * torch.pi * 80.0 * t)
    out = butterworth((low + high)[None, :, None], 20.0, dt, kind="lowpass")[0, :, 0]
    inner = slice(100, 300)  # away from the ends
    torch.testing.assert_close(out[inner], low[inner], atol=2e-2, rtol=0)
    # Zero phase: a symmetric pulse keeps its peak where it was.
    pulse = torch.exp(-(((t - 0.4) / 0.01) ** 2))[None, :, None]
    assert int(butterworth(pulse, 15.0, dt, kind="lowpass").argmax()) == int(pulse.argmax())


def test_trace_normalised_l2_against_numpy_and_its_gradient():
    rng = np.random.default_rng(3)
    obs, pred = rng.standard_normal((2, 2, 40, 5))  # (shot, time, receiver)
    obs[1, :, 2] = 0.0  # a dead trace stays zero, no NaN
    unit = [x / np.where(np.abs(x).max(axis=1, keepdims=True) > 0,
                         np.abs(x).max(axis=1, keepdims=True), 1.0) for x in (pred, obs)]
    expected = np.sum((unit[0] - unit[1]) ** 2) / np.sum(unit[1] ** 2)
    p, o = torch.from_numpy(pred), torch.from_numpy(obs)
    assert float(l2_tracenorm_loss(p, o)) == pytest.approx(expected, rel=1e-12)
    # Blind to each trace's amplitude, unlike plain L2.
    scales = torch.from_numpy(rng.uniform(0.1, 10.0, (2, 1, 5)))
    assert float(l2_tracenorm_loss(p * scales, o)) == pytest.approx(expected, rel=1e-12)
    assert float(l2_tracenorm_loss(o * scales, o)) == pytest.approx(0.0, abs=1e-12)
    assert float(l2_loss(o * scales, o)) > 0.1
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: l2_tracenorm_loss(x, o), (p,))


# -- checkpoints, resume, NaN -----------------------------------------------------------------
_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from tests.helpers import model_dataarray
from tests.helpers import resume_problem

vp = model_dataarray(np.load({vp!r}), 10.0)
problem = resume_problem(vp, np.load({observed!r}))
print("started", flush=True)
problem.solve({iterations}, checkpoint_dir={ckpt!r}, checkpoint_every=2, progress=False,
              callback=lambda *args: time.sleep(0.5))
print("finished", flush=True)
"""


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, layered,
                                                           crosswell_observed):
    observed = crosswell_observed.values
    np.save(tmp_path / "vp.npy", layered.values)
    np.save(tmp_path / "observed.npy", observed)
    ckpt = tmp_path / "ckpt"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_SCRIPT).format(
        root=str(ROOT), vp=str(tmp_path / "vp.npy"), observed=str(tmp_path / "observed.npy"),
        iterations=8, ckpt=str(ckpt),
    ))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (ckpt / CHECKPOINT_NAME).exists():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    done = torch.load(ckpt / CHECKPOINT_NAME, weights_only=True)["iteration"]
    assert 2 <= done < 8

    # The killed run's folder lock is left behind (and released by the kernel): taken over.
    with pytest.warns(UserWarning, match="took over the lock .*the process is gone"):
        resumed = resume_problem(layered, observed).solve(
            8, checkpoint_dir=ckpt, resume=True, progress=False
        )
    reference = resume_problem(layered, observed).solve(8, progress=False)
    vp, ref = resumed["vp"].values, reference["vp"].values
    assert np.max(np.abs(vp - ref)) <= 1e-5 * np.max(np.abs(ref))
    np.testing.assert_allclose(resumed["loss"].values, reference["loss"].values, rtol=1e-5)
    np.testing.assert_array_equal(resumed["cutoff"].values, reference["cutoff"].values)
    assert torch.load(ckpt / CHECKPOINT_NAME, weights_only=True)["iteration"] == 8


def test_nan_loss_stops_and_keeps_the_last_good_state(tmp_path, initial, crosswell_survey,
                                                      crosswell_observed):
    calls = {"n": 0}

    def flaky(pred, obs):
        calls["n"] += 1
        loss = l2_loss(pred, obs)
        return loss * float("nan") if calls["n"] == 3 else loss

    models = []
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel", loss=flaky)
    with pytest.raises(FloatingPointError, match="iteration 2") as info:
        problem.solve(5, checkpoint_dir=tmp_path, checkpoint_every=10, progress=False,
                      callback=lambda p, i, loss: models.append(p.current_model().values))
    assert str(tmp_path) in str(info.value)
    assert problem.iteration == 2
    np.testing.assert_array_equal(problem.current_model().values, models[-1])
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state["iteration"] == 2 and len(state["history"]["loss"]) == 2
    # The saved state resumes (the flaky loss is past its NaN).
    result = problem.solve(4, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert result.sizes["iteration"] == 4 and np.all(np.isfinite(result["loss"].values))


def test_resume_refuses_a_different_problem(tmp_path, initial, crosswell_survey,
                                            crosswell_observed):
    CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel").solve(
        1, checkpoint_dir=tmp_path, progress=False
    )
    other = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel", lr=0.05)
    with pytest.raises(ValueError, match="lr"):
        other.solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        other.solve(2, resume=True, progress=False)


# -- bad configurations -----------------------------------------------------------------------
def _args(layered, initial, survey, observed, **changes):
    args = {"observed": observed, "survey": survey, "initial": initial}
    args.update(changes)
    return args


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"representation": "voxels"}, ValueError, "representation must be one of"),
        ({"loss": "l3"}, ValueError, "loss must be one of"),
        ({"optimizer": "adamax9"}, ValueError, "optimizer must be one of"),
        ({"bounds": (3000.0, 1500.0)}, ValueError, "vmin < vmax"),
        ({"bounds": (2100.0, 2500.0)}, ValueError, "within bounds"),
        ({"shots_per_iteration": 4}, ValueError, "shots_per_iteration"),
        ({"shot_order": "sorted"}, ValueError, "shot_order must be one of"),
        ({"frequency_schedule": [(500.0, 3)]}, ValueError, "Nyquist"),
        ({"frequency_schedule": [(5.0, 0)]}, ValueError, "iterations"),
        ({"vmax": 4000.0}, TypeError, "vmax is bounds"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"water_mask": np.zeros((3, 3), bool)}, ValueError, "water_mask"),
    ],
)
def test_bad_settings_fail_clearly(layered, initial, crosswell_survey, crosswell_observed,
                                   changes, error, match):
    with pytest.raises(error, match=match):
        CRFWIProblem(**_args(layered, initial, crosswell_survey, crosswell_observed, **changes))


def test_bad_models_fail_clearly(layered, initial, crosswell_survey, crosswell_observed):
    with pytest.raises(ValueError, match="dims"):
        CRFWIProblem(crosswell_observed, crosswell_survey, initial.T)
    with pytest.raises(TypeError, match="DataArray"):
        CRFWIProblem(crosswell_observed, crosswell_survey, initial.values)
    other = model_dataarray(np.full((20, 30), 2000.0), 10.0)
    with pytest.raises(ValueError, match="true_model must have initial.s shape"):
        CRFWIProblem(crosswell_observed, crosswell_survey, initial, true_model=other)


def test_observed_that_does_not_match_the_survey_fails_clearly(
    layered, initial, crosswell_survey, crosswell_observed
):
    def fails(observed, match):
        with pytest.raises(ValueError, match=match):
            CRFWIProblem(observed, crosswell_survey, initial, "pixel")

    fails(crosswell_observed.isel(shot=[0, 1]), "shots: observed 2, survey 3")
    fails(crosswell_observed.isel(time=slice(0, 100)), "time samples: observed 100")
    fails(crosswell_observed.isel(receiver=slice(0, 10)), "receivers: observed 10, survey 15")
    resampled = crosswell_observed.assign_coords(time=crosswell_observed.time / 2)
    fails(resampled.assign_attrs(dt=0.001), "dt: observed 0.001 s, survey 0.002 s")
    fails(crosswell_observed.assign_attrs(dt=0.001), "disagrees with the time axis step 0.002 s")
    moved = crosswell_observed.assign_coords(source_x=crosswell_observed.source_x + 10.0)
    fails(moved, "source_x differs")
    fails(crosswell_observed.values[:, :, :3], "receivers")
    with pytest.raises(ValueError, match="iterations"):
        CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel").solve(0)
