"""Time axes: the stable step, band-limited resampling, refusals, subsampled gradient storage."""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.physics import (
    EngineSettings,
    ModelGrid,
    Propagator,
    Survey,
    memory,
    ricker,
    time_axes,
)
from devito_crfwi.physics.grid import CFL_MARGIN
from devito_crfwi.physics.resampling import sinc_resampling
from devito_crfwi.physics.storage import SUBSAMPLED_GRADIENT_TOLERANCE
from tests.helpers import model_dataarray

# Measured (float64, layered model, 15 Hz, 0.3 s): relative L2 misfit of the traces at the
# default step (0.95 of the CFL limit, resampled) against a run at 0.2 of the limit recorded
# at its own step: 9.8e-3 for 4 ms, 1e-5 s and 2e-6 s recording intervals alike. It is the
# leapfrog's time dispersion at the larger step (the resampling alone: 5e-6 at 4 ms).
TRACE_TOLERANCE = 1.5e-2


def engine(vp, survey, **options) -> Propagator:
    options.setdefault("boundary_width", 20)
    return Propagator.from_model(vp, survey, dtype=np.float64, **options)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- resampling ----------------------------------------------------------------------------
@pytest.mark.parametrize("dt_from, dt_to", [(0.0013, 0.004), (0.004, 0.0013), (0.0013, 1e-5)])
def test_resampling_adjoint_is_the_transpose(dt_from, dt_to):
    """<y, R x> = <R^T y, x> to round-off (float64)."""
    rng = np.random.default_rng(0)
    t_from, t_to = np.arange(0, 0.5, dt_from), np.arange(0, 0.45, dt_to)
    resample = sinc_resampling(t_from, t_to)
    x, y = rng.standard_normal(len(t_from)), rng.standard_normal(len(t_to))
    lhs, rhs = y @ (resample @ x), (resample.T @ y) @ x
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), abs(rhs))


@pytest.mark.parametrize("f0", [10.0, 25.0])
def test_resampling_rebuilds_band_limited_signals(f0):
    """A Ricker sampled at 4 ms is rebuilt at arbitrary times to ~2e-5; down-sampled (low-pass
    at the 4 ms Nyquist, then sampled) to ~1e-4."""
    coarse, fine = np.arange(0, 1.0, 0.004), np.arange(0, 0.9, 0.00037)
    up = sinc_resampling(coarse, fine) @ ricker(f0, coarse)
    assert relative_error(up, ricker(f0, fine)) < 1e-4
    sim = np.arange(0, 1.0, 0.0013)
    down = sinc_resampling(sim, coarse[:200]) @ ricker(f0, sim)
    assert relative_error(down, ricker(f0, coarse[:200])) < 2e-4
    # onto a finer axis, samples at coinciding times are copied exactly
    finer = sinc_resampling(coarse, np.arange(0, 0.9, 0.001)) @ ricker(f0, coarse)
    np.testing.assert_array_equal(finer[::4], ricker(f0, coarse[:225]))


def test_user_wavelet_and_its_highest_frequency(layered):
    survey = Survey.surface(layered, 1, 3, f0=12.0, t_max=0.5, dt=0.004)
    assert survey.highest_frequency() == pytest.approx(36.0)
    user = Survey(survey.source_positions, survey.receiver_positions, f0=12.0, t_max=0.5,
                  dt=0.004, wavelet=ricker(12.0, survey.time))
    assert user.highest_frequency() == pytest.approx(36.0, rel=0.03)
    t = np.arange(0, 0.5, 0.0011)
    assert relative_error(user.source_wavelet(t), ricker(12.0, t)) < 1e-4


# -- the time step -------------------------------------------------------------------------
def worst_case(margin_survey_t_max: float = 6.0):
    """Highest velocity everywhere, 5 m cells, free surface, C-PML: 6 s = ~10^4 steps."""
    vp = model_dataarray(np.full((60, 40), 4500.0), 5.0)
    survey = Survey.surface(vp, 1, 10, f0=10.0, t_max=margin_survey_t_max, dt=0.004)
    return vp, survey


def long_record(vp, survey) -> tuple[float, float]:
    prop = Propagator.from_model(vp, survey, boundary_width=20, free_surface=True)
    data = prop.forward(vp.values)[0]
    return float(np.abs(data).max()), float(np.abs(data[-100:]).max())


def test_default_step_is_stable_over_a_long_record():
    """float32, ~10^4 steps at CFL_MARGIN of the limit: energy leaves through the C-PML."""
    peak, late = long_record(*worst_case())
    assert np.isfinite(peak) and late < 1e-4 * peak


def test_the_stability_check_catches_a_step_past_the_limit(monkeypatch):
    """The same run 1% past the CFL limit grows without bound: the test above can fail."""
    monkeypatch.setattr(time_axes, "CFL_MARGIN", 1.01)
    peak, late = long_record(*worst_case())
    assert not (np.isfinite(peak) and late < 1e-4 * peak)


def test_step_is_the_margin_of_the_limit_whatever_the_recording_interval(layered):
    grid = ModelGrid.from_dataarray(layered, nbl=20)
    stable = grid.max_stable_dt(3000.0, 8)
    for dt in (0.004, 0.0013, 1e-5):
        survey = Survey.surface(layered, 1, 3, f0=15.0, t_max=0.3, dt=dt)
        prop = Propagator.from_model(layered, survey, boundary_width=20, vmax=3000.0)
        assert prop.dt == pytest.approx(CFL_MARGIN * stable, rel=1e-12)


def test_explicit_steps_outside_the_stable_range_are_refused(layered, small_survey):
    with pytest.raises(ValueError, match="unstable"):
        engine(layered, small_survey, dt=0.01)
    with pytest.raises(ValueError, match=r"below 0.1 of the stable step .* interpolation"):
        engine(layered, small_survey, dt=1e-9)


# -- accuracy against a small-step reference -----------------------------------------------
@pytest.fixture(scope="module")
def reference(layered, small_survey):
    """Traces at 0.4 ms = 0.2 of the CFL limit, recorded at that step (no resampling)."""
    survey = Survey(small_survey.source_positions, small_survey.receiver_positions,
                    f0=15.0, t_max=0.3, dt=0.0004)
    prop = engine(layered, survey, dt=0.0004, vmax=3000.0)
    return prop.forward(layered.values.astype(np.float64))


@pytest.mark.parametrize("dt", [0.004, 1e-5, 2e-6])
def test_traces_match_a_small_step_reference(layered, small_survey, reference, dt):
    """Coarse and very fine recording intervals (the latter once 3% wrong, 8e16, or NaN)."""
    survey = Survey(small_survey.source_positions, small_survey.receiver_positions,
                    f0=15.0, t_max=0.3, dt=dt)
    vp = layered.values.astype(np.float64)
    data = engine(layered, survey, vmax=3000.0).forward(vp)
    # compare on the coarser of the two axes (their samples coincide)
    ref, pick = reference, slice(None, None, round(0.0004 / dt))
    if dt > 0.0004:
        ref, pick = reference[:, :: round(dt / 0.0004)], slice(None)
    samples = data[:, pick]
    assert samples.shape == ref.shape
    assert np.all(np.isfinite(data)) and np.abs(data).max() < 2 * np.abs(reference).max()
    assert relative_error(samples, ref) < TRACE_TOLERANCE


# -- memory ---------------------------------------------------------------------------------
def test_runs_that_do_not_fit_in_memory_are_refused_before_allocating(layered, small_survey,
                                                                      monkeypatch):
    vp = layered.values
    prop = engine(layered, small_survey, subsample=1)
    observed = prop.forward(vp)
    tape = prop._storage.stored_bytes / 2**20
    monkeypatch.setattr(memory, "available_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match=rf"2 new tape\(s\) of {prop.stored_levels} levels "
                       rf"\(every 1 of {prop.nt - 2} steps\) {2 * tape:.1f} MiB.* 1.0 MiB"):
        prop.misfit_gradient(vp, observed)
    assert prop._stored == []  # nothing was allocated
    monkeypatch.setattr(memory, "available_memory", lambda: 2**10)
    with pytest.raises(MemoryError, match="simulation traces .* MiB"):
        engine(layered, small_survey)


# -- subsampled wavefield storage ------------------------------------------------------------
def test_subsample_setting_is_validated():
    assert EngineSettings().subsample == "auto"
    assert EngineSettings(subsample=4).subsample == 4
    for bad in (0, -1, 2.0, True, "every"):
        with pytest.raises(ValueError, match="subsample"):
            EngineSettings(subsample=bad)


@pytest.fixture(scope="module")
def low_frequency(layered):
    """6 Hz (f_max 18 Hz) on ``layered``: the auto factor stores every 6th of ~330 steps."""
    survey = Survey.surface(layered, 2, 15, f0=6.0, t_max=0.6)
    observed = engine(layered, survey, subsample=1).forward(np.full(layered.shape, 2200.0))
    return survey, observed


def test_subsampled_gradient_is_within_tolerance_and_descends(layered, low_frequency):
    """The auto factor's tape alone (a fixed factor: "auto" would record this residual,
    cut at t_max, again with every step stored; see test_exact_gradient.py)."""
    survey, observed = low_frequency
    vp = layered.values.astype(np.float64)
    exact = engine(layered, survey, subsample=1)
    auto = engine(layered, survey)
    assert auto.subsample == 6 and auto.stored_levels < exact.stored_levels / 5
    # (on this small grid the live fields and C-PML memories are a good part of the bytes)
    assert auto.memory_plan(2).bytes_per_call < exact.memory_plan(2).bytes_per_call / 3
    f0, g1 = exact.misfit_gradient(vp, observed)
    f_auto, gk = engine(layered, survey, subsample=auto.subsample).misfit_gradient(vp, observed)
    assert f_auto == f0  # the forward is untouched
    assert relative_error(gk, g1) < SUBSAMPLED_GRADIENT_TOLERANCE
    assert np.sum(gk * g1) > 0.999 * np.linalg.norm(gk) * np.linalg.norm(g1)
    # Taylor-type check along the approximate steepest descent: the predicted decrease
    # e <gk, d> matches the true one to first order, and the misfit goes down.
    d = -gk * (100.0 / np.abs(gk).max())
    slope = float(np.sum(gk * d))
    for e in (0.1, 0.05):
        fe = 0.5 * float(np.sum((exact.forward(vp + e * d) - observed) ** 2))
        assert fe < f0
        assert (fe - f0) / (e * slope) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("subsample", [1, 3, "auto"])
def test_revolve_saves_the_same_levels_as_full_storage(layered, small_survey, subsample):
    """Revolve's segments are a multiple of the factor long: its gradient is full storage's,
    for the exact tape (factor 1), a subsampled one, and the default (every step stored
    from the start in full storage; with revolve, this residual is recorded again with
    every step stored)."""
    vp = layered.values
    observed = engine(layered, small_survey).forward(np.full(layered.shape, 2200.0))
    stored = engine(layered, small_survey, subsample=subsample)
    revolve = engine(layered, small_survey, subsample=subsample, checkpoints=4)
    assert revolve.memory_plan(1).mode == "revolve"
    assert (subsample == 1) == (revolve.subsample == 1)
    _, g_stored = stored.misfit_gradient(vp, observed)
    _, g_revolve = revolve.misfit_gradient(vp, observed)
    assert relative_error(g_revolve, g_stored) < 1e-10
