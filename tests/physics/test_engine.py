"""Devito engine: adjointness, Taylor, checkpointing, operator reuse, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devito_crfwi.physics import ModelGrid, Propagator, Survey, operators_built
from tests.helpers import dot_test, model_dataarray, smooth_perturbation


def make(layered, survey, **kwargs) -> Propagator:
    """An engine on ``layered``; exact gradients (every step stored) unless told otherwise."""
    kwargs.setdefault("boundary_width", 20)
    kwargs.setdefault("subsample", 1)
    return Propagator.from_model(layered, survey, vmax=3000.0, **kwargs)


@pytest.mark.parametrize("free_surface", [False, True])
def test_born_adjoint_dot_product_float32(layered, small_survey, free_surface):
    prop = make(layered, small_survey, free_surface=free_surface)
    vp = layered.values
    lhs, rhs = dot_test(prop, vp)
    # float32: measured 3.4e-5 (C-PML), 9.6e-6 (free surface)
    assert abs(lhs - rhs) / max(abs(lhs), abs(rhs)) <= 1e-4, (lhs, rhs)


@pytest.mark.parametrize("free_surface, tolerance", [(False, 1e-12), (True, 1e-10)],
                         ids=["cpml", "free-surface"])
def test_born_adjoint_dot_product_float64_with_the_engine_defaults(layered, small_survey,
                                                                   free_surface, tolerance):
    """<J dvp, dd> = <dvp, Jᵀ dd> in float64 with white dvp and dd (README: "~1e-12").

    The engine's defaults: C-PML width from f0 (14 cells here), vmax the model's maximum and
    ``subsample="auto"``, whose tapes here store every step from the start (they fit), so
    the white dd needs no second forward. Measured gaps (seeds 1-3): 4.4e-14, 3.0e-15,
    1.8e-15 with the C-PML (the sum's cancellation, up to 500x, sets them), 4.3e-12,
    1.2e-12, 1.9e-12 with the free surface (about the same whatever the cancellation, and
    with the receivers and sources anywhere from 20 to 150 m deep: not the sum's rounding;
    the free-surface pair agrees to ~1e-12, as the README says, not to the C-PML's ~1e-14).
    """
    prop = Propagator.from_model(layered, small_survey, dtype=np.float64,
                                 free_surface=free_surface)
    assert prop.grid.nbl == 14 and prop.subsample > 1
    lhs, rhs = dot_test(prop, layered.values.astype(np.float64))
    assert prop.exact_recordings == 0  # the white dd replayed the exact tapes it had
    assert abs(lhs - rhs) / max(abs(lhs), abs(rhs)) <= tolerance, (lhs, rhs)


def test_born_matches_finite_difference(layered, small_survey):
    prop = make(layered, small_survey, dtype=np.float64)
    vp = layered.values.astype(np.float64)
    dvp = smooth_perturbation(vp.shape, np.random.default_rng(2))
    eps = 1e-2
    fd = (prop.forward(vp + eps * dvp) - prop.forward(vp - eps * dvp)) / (2 * eps)
    born = prop.born(vp, dvp)
    # measured 2.4e-7: the central difference's O(eps²) error
    assert np.linalg.norm(born - fd) / np.linalg.norm(fd) < 1e-5


@pytest.mark.parametrize("free_surface, amplitude", [(False, 100.0), (True, 10.0)])
def test_taylor_misfit_gradient(layered, small_survey, free_surface, amplitude):
    """First-order remainder ~ eps, second-order remainder ~ eps**2.

    (Under the free surface the misfit curves more: at 100 m/s the first-order remainder's
    slope was 1.3, at 25 m/s 1.11, so its perturbation is 10 m/s.)
    """
    prop = make(layered, small_survey, dtype=np.float64, free_surface=free_surface)
    vp = layered.values.astype(np.float64)
    observed = prop.forward(np.full_like(vp, 2200.0))
    f0, grad = prop.misfit_gradient(vp, observed)
    dvp = smooth_perturbation(vp.shape, np.random.default_rng(3), amplitude=amplitude)
    slope_dir = float(np.sum(grad * dvp))
    eps = np.array([1.0, 0.5, 0.25, 0.125, 0.0625])
    r1, r2 = [], []
    for e in eps:
        residual = prop.forward(vp + e * dvp) - observed
        fe = 0.5 * float(np.sum(residual**2))
        r1.append(abs(fe - f0))
        r2.append(abs(fe - f0 - e * slope_dir))
    p1 = np.polyfit(np.log(eps), np.log(r1), 1)[0]
    p2 = np.polyfit(np.log(eps), np.log(r2), 1)[0]
    assert 0.9 <= p1 <= 1.1, r1
    assert 1.8 <= p2 <= 2.2, r2


@pytest.mark.parametrize("checkpoints", [3, 7])
def test_revolve_gradient_equals_full_storage(layered, small_survey, checkpoints):
    full = make(layered, small_survey)
    revolve = make(layered, small_survey, checkpoints=checkpoints)
    assert full.memory_plan(2).mode == "full"
    assert revolve.memory_plan(2).mode == "revolve"
    vp = layered.values
    observed = full.forward(np.full_like(vp, 2200.0))
    loss_full, g_full = full.misfit_gradient(vp, observed)
    loss_rev, g_rev = revolve.misfit_gradient(vp, observed)
    # measured 0 for both (bit-identical: revolve replays the same kernels on the same levels)
    assert loss_rev == pytest.approx(loss_full, rel=1e-10)
    assert np.linalg.norm(g_rev - g_full) / np.linalg.norm(g_full) <= 1e-10


@pytest.mark.parametrize("checkpoints", [None, 3])
def test_batched_born_and_adjoint_equal_single_calls(layered, small_survey, checkpoints):
    """A leading batch of perturbations / adjoint sources; tapes replay once per item."""
    prop = make(layered, small_survey, checkpoints=checkpoints)
    vp = layered.values
    rng = np.random.default_rng(8)
    dvp = np.stack([smooth_perturbation(vp.shape, rng) for _ in range(3)])
    born = prop.born(vp, dvp)
    assert born.shape == (3, 2, small_survey.nt, 15)
    for b in range(3):
        np.testing.assert_array_equal(born[b], prop.born(vp, dvp[b]))
    sources = rng.standard_normal((3, 2, small_survey.nt, 15))
    sources[1, 0] = 0.0  # a zero row is skipped, not replayed
    _, tapes = prop.record(vp)
    grads = prop.jacobian_adjoint(vp, tapes, sources)
    assert grads.shape == (3, *vp.shape)
    for b in range(3):
        _, fresh = prop.record(vp)
        single = prop.jacobian_adjoint(vp, fresh, sources[b])
        # measured 0 (bit-identical)
        assert np.linalg.norm(grads[b] - single) <= 1e-12 * np.linalg.norm(single)


def test_memory_limit_picks_the_mode(layered, small_survey):
    probe = make(layered, small_survey)
    full_bytes = probe.memory_plan(2).bytes_per_call
    roomy = make(layered, small_survey, memory_limit=full_bytes)
    tight = make(layered, small_survey, memory_limit=full_bytes // 2)
    assert roomy.memory_plan(2).mode == "full"
    plan = tight.memory_plan(2)
    assert plan.mode == "revolve" and plan.bytes_per_call <= full_bytes // 2
    with pytest.raises(MemoryError, match="memory_limit"):
        make(layered, small_survey, memory_limit=1000).memory_plan(2)


def test_second_call_builds_and_compiles_nothing(layered, small_survey, monkeypatch):
    from devito import Operator

    prop = make(layered, small_survey)
    vp = layered.values
    observed = prop.forward(vp)
    prop.misfit_gradient(vp, observed)
    prop.born(vp, vp * 0.01)
    built = operators_built()
    compiled = []
    original = Operator._jit_compile
    monkeypatch.setattr(
        Operator, "_jit_compile",
        lambda self: compiled.append(self.name) or original(self),
    )
    again = make(layered, small_survey)  # a new propagator on the same geometry
    for p in (prop, again):
        p.forward(vp * 1.01)
        p.misfit_gradient(vp, observed, shots=[1])
        p.born(vp, vp * 0.02)
    assert operators_built() == built
    assert compiled == []


def greens_trace(survey: Survey, c: float, h: float, r: float) -> np.ndarray:
    """Analytic 2-D trace at distance r (m) for the engine's node source (time,).

    ``m u_tt - lap u = h² s(t) δ(x)``: a node source of amplitude s is a density h² s.
    """
    from scipy.special import hankel2

    nfft = 8 * survey.nt
    freqs = np.fft.rfftfreq(nfft, survey.dt)
    spectrum = np.fft.rfft(survey.source_wavelet(survey.time), nfft)
    green = np.zeros_like(spectrum)
    green[1:] = -0.25j * hankel2(0, 2 * np.pi * freqs[1:] * r / c)  # outgoing, numpy's sign
    return h**2 * np.fft.irfft(spectrum * green, nfft)[: survey.nt]


def test_constant_velocity_trace_matches_2d_greens_function():
    """Traces in a homogeneous medium against the analytic 2-D Green's function."""
    c, h, n = 2000.0, 10.0, 121
    vp = model_dataarray(np.full((n, n), c), h)
    centre = (n // 2) * h
    offsets = np.array([150.0, 300.0])
    survey = Survey(
        [[centre, centre]],
        np.stack([centre + offsets, np.full(2, centre)], axis=1),
        f0=10.0, t_max=0.4, dt=0.001,
    )
    data = Propagator.from_model(vp, survey, boundary_width=20, dtype=np.float64).forward(
        vp.values.astype(np.float64))[0]
    for j, r in enumerate(offsets):
        analytic = greens_trace(survey, c, h, r)
        error = np.linalg.norm(data[:, j] - analytic) / np.linalg.norm(analytic)
        assert error < 0.05, (r, error)
        # first break: the peak arrives one wavelet delay after r / c
        assert abs(np.argmax(np.abs(data[:, j])) - np.argmax(np.abs(analytic))) <= 1


def test_free_surface_ghost_is_a_negative_image_source():
    """With a free surface the extra arrival is minus the wave of the mirrored source.

    The pressure vanishes on the top row (z0 = 0): the image of a source at depth zs is at
    -zs, against the analytic 2-D Green's function (as the direct wave's test).
    """
    c, h, n = 2000.0, 10.0, 121
    vp = model_dataarray(np.full((n, n), c), h)
    zs, offset = 60.0, 200.0
    survey = Survey([[300.0, zs]], [[300.0 + offset, zs]], f0=10.0, t_max=0.4, dt=0.001)
    runs = [
        Propagator.from_model(vp, survey, boundary_width=20, dtype=np.float64,
                              free_surface=fs).forward(vp.values.astype(np.float64))[0, :, 0]
        for fs in (False, True)
    ]
    ghost = runs[1] - runs[0]
    r_image = np.hypot(offset, 2 * zs)
    expected = -greens_trace(survey, c, h, r_image)
    assert np.linalg.norm(ghost - expected) / np.linalg.norm(expected) < 0.05
    assert np.dot(ghost, expected) > 0.95 * np.linalg.norm(ghost) * np.linalg.norm(expected)


@pytest.mark.parametrize(
    "bad, message",
    [(np.nan, "NaN"), (0.0, "positive"), (-1500.0, "positive"), (np.inf, "Inf")],
)
def test_bad_velocities_are_rejected(layered, small_survey, bad, message):
    prop = make(layered, small_survey)
    vp = layered.values.copy()
    vp[3, 4] = bad
    with pytest.raises(ValueError, match=message):
        prop.forward(vp)


def test_velocity_above_vmax_is_rejected(layered, small_survey):
    prop = make(layered, small_survey)
    with pytest.raises(ValueError, match="vmax"):
        prop.forward(layered.values * 2)


def test_survey_errors(layered):
    with pytest.raises(ValueError, match="t_max"):
        Survey.surface(layered, 2, 10, f0=10.0, t_max=0.0)
    with pytest.raises(ValueError, match="f0"):
        Survey.surface(layered, 2, 10, f0=-5.0, t_max=1.0)
    with pytest.raises(ValueError, match="outside the model"):
        Survey([[50.0, 10.0]], [[1000.0, 10.0]], f0=10.0, t_max=0.5).check_inside(
            ModelGrid.from_dataarray(layered, nbl=10).extent)
    with pytest.raises(ValueError, match="outside the model"):
        Survey.surface(layered, 1, 5, f0=10.0, t_max=0.5, source_depth=-30.0)


def test_unstable_dt_is_rejected(layered, small_survey):
    with pytest.raises(ValueError, match="unstable"):
        make(layered, small_survey, dt=0.01)


def test_dispersion_warning_points_at_the_callers_line(layered):
    """Reached at three depths of the package, the warning names this file every time."""
    from devito_crfwi import WaveOperator, simulate

    survey = Survey.surface(layered, 1, 5, f0=60.0, t_max=0.05)
    for build in (lambda: Propagator.from_model(layered, survey),
                  lambda: WaveOperator(survey, layered),
                  lambda: simulate(layered, survey, progress=False)):
        with pytest.warns(UserWarning, match="points per minimum wavelength") as record:
            build()
        assert [Path(w.filename).name for w in record] == [Path(__file__).name]


def test_recording_axis_and_resampling(layered, small_survey):
    """Data on a coarser recording axis are the fine simulation, low-passed and sampled."""
    fine = Survey(small_survey.source_positions, small_survey.receiver_positions,
                  f0=15.0, t_max=0.3, dt=0.0005)
    coarse = Survey(small_survey.source_positions, small_survey.receiver_positions,
                    f0=15.0, t_max=0.3, dt=0.002)
    p_fine = make(layered, fine, dt=0.0005)
    p_coarse = make(layered, coarse, dt=0.0005)
    d_fine = p_fine.forward(layered.values)
    d_coarse = p_coarse.forward(layered.values)
    assert d_coarse.shape == (2, coarse.nt, coarse.n_receivers)
    # measured 2.5e-6: the band-limiting filter's ripple (the content is < 0.2 of Nyquist)
    error = np.linalg.norm(d_coarse - d_fine[:, ::4]) / np.linalg.norm(d_fine[:, ::4])
    assert error < 1e-4, error


def test_full_storage_buffers_are_reused_but_never_shared(layered, small_survey):
    """Live tapes keep their wavefields; a finished gradient's buffer serves the next call."""
    prop = make(layered, small_survey)
    vp = layered.values
    dd = np.random.default_rng(6).standard_normal((1, small_survey.nt, 15)).astype(np.float32)
    _, first = prop.record(vp, [0])
    _, second = prop.record(vp * 1.05, [0])  # must not overwrite the first tape
    assert first[0].runner is not second[0].runner
    g_first = prop.jacobian_adjoint(vp, first, dd)
    other = make(layered, small_survey)
    _, fresh = other.record(vp, [0])
    np.testing.assert_array_equal(g_first, other.jacobian_adjoint(vp, fresh, dd))
    runner = first[0].runner
    del first
    _, third = prop.record(vp, [1])
    assert third[0].runner is runner  # reused once its tape was dropped
