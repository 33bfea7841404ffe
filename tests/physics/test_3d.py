"""3-D physics: the same engine on (x, y, z) models against independent references
(dot-product and Taylor tests, the analytic 3-D Green's function, long-record stability)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from devito_crfwi import Survey, read_segy, read_shots, simulate, write_segy, write_shots
from devito_crfwi.physics import ModelGrid, Propagator
from devito_crfwi.physics.boundary import cpml_coefficients
from tests.helpers import dot_test, model_dataarray, smooth_perturbation

NBL = 10  # a thin C-PML keeps the 3-D grids (and their compile and run times) small


@pytest.fixture(scope="module")
def survey3d(model3d):
    return Survey.surface(model3d, 2, (4, 3), f0=8.0, t_max=0.5)


def engine(model3d, survey3d, **kwargs) -> Propagator:
    kwargs.setdefault("boundary_width", NBL)
    kwargs.setdefault("subsample", 1)
    return Propagator.from_model(model3d, survey3d, vmax=2800.0, **kwargs)


def test_grid_pads_every_side_but_a_free_top():
    grid = ModelGrid((6, 5, 4), (10.0, 20.0, 5.0), nbl=3, free_surface=True)
    assert grid.ndim == 3 and grid.origin == (0.0, 0.0, 0.0)
    assert grid.pad_widths == ((3, 3), (3, 3), (0, 3))
    assert grid.padded_shape == (12, 11, 7)
    assert grid.padded_origin == (-30.0, -60.0, 0.0)
    rng = np.random.default_rng(0)
    field, padded = rng.standard_normal(grid.shape), rng.standard_normal(grid.padded_shape)
    # pad_adjoint is pad's transpose, crop its left inverse
    assert np.isclose(np.sum(grid.pad(field) * padded), np.sum(field * grid.pad_adjoint(padded)))
    np.testing.assert_array_equal(grid.crop(grid.pad(field)), field)
    # C-PML coefficients: zero inside and on the free top, absorbing in every strip
    (ax, _), (ay, _), (az, bz) = cpml_coefficients(grid, 2000.0, 10.0, 1e-3)
    assert ax[3:9].tolist() == [0] * 6 and ax[0] < 0 and ax[-1] < 0 and ay[0] < 0
    assert az[:4].tolist() == [0] * 4 and az[-1] < 0 and 0 < bz[-1] < 1
    # the laplacian's symbol bound sums over axes: a cube's step is sqrt(2/3) of a square's
    square = ModelGrid((6, 4), (10.0, 10.0)).max_stable_dt(3000.0, 8)
    cube = ModelGrid((6, 5, 4), (10.0, 10.0, 10.0)).max_stable_dt(3000.0, 8)
    assert cube == pytest.approx(square * np.sqrt(2 / 3), rel=1e-12)


def test_surface_survey_is_an_areal_grid(model3d):
    survey = Survey.surface(model3d, 6, 12, f0=8.0, t_max=0.5)
    assert survey.ndim == 3 and survey.n_shots == 6 and survey.n_receivers == 12
    # 6 = 3 x 2 and 12 = 4 x 3 along (x, y): the model is 460 m x 380 m
    assert len(np.unique(survey.source_positions[:, 0])) == 3
    assert len(np.unique(survey.source_positions[:, 1])) == 2
    rec = survey.receiver_positions[0]
    assert len(np.unique(rec[:, 0])) == 4 and len(np.unique(rec[:, 1])) == 3
    np.testing.assert_array_equal(rec[:, 2], 40.0)  # two cells below the top
    assert np.all(np.mod(rec[:, :2], 20.0) == 0)  # snapped to nodes
    pairs = Survey.surface(model3d, (1, 2), (2, 5), f0=8.0, t_max=0.5)
    assert pairs.n_shots == 2 and pairs.n_receivers == 10
    np.testing.assert_array_equal(pairs.source_positions[:, 0], 240.0)  # the middle node
    with pytest.raises(ValueError, match=r"n_receivers = 21 would put two .*20 grid rows \(y\)"):
        Survey.surface(model3d, 1, (2, 21), f0=8.0, t_max=0.5)
    with pytest.raises(ValueError, match="positions are 2-D but the model is 3-D"):
        Propagator.from_model(model3d, Survey([[20.0, 40.0]], [[60.0, 40.0]], f0=8.0,
                                              t_max=0.5))


def test_born_adjoint_dot_product_3d(model3d, survey3d):
    """<J dvp, dd> = <dvp, J^T dd> with a free surface (float32, every step stored)."""
    prop = engine(model3d, survey3d, free_surface=True)
    vp = model3d.values
    lhs, rhs = dot_test(prop, vp)
    assert abs(lhs - rhs) / max(abs(lhs), abs(rhs)) <= 1e-4, (lhs, rhs)  # measured 5.1e-6


def test_taylor_misfit_gradient_3d(model3d, survey3d):
    """First-order remainder ~ eps, second-order remainder ~ eps**2."""
    prop = engine(model3d, survey3d, dtype=np.float64)
    vp = model3d.values.astype(np.float64)
    observed = prop.forward(np.full_like(vp, 2150.0))
    f0, grad = prop.misfit_gradient(vp, observed)
    dvp = np.stack([smooth_perturbation(vp.shape[1:], np.random.default_rng(3 + i), 100.0)
                    for i in range(vp.shape[0])])
    slope = float(np.sum(grad * dvp))
    eps = np.array([0.25, 0.125, 0.0625])
    r1, r2 = [], []
    for e in eps:
        fe = 0.5 * float(np.sum((prop.forward(vp + e * dvp) - observed) ** 2))
        r1.append(abs(fe - f0))
        r2.append(abs(fe - f0 - e * slope))
    assert 0.9 <= np.polyfit(np.log(eps), np.log(r1), 1)[0] <= 1.1, r1
    assert 1.8 <= np.polyfit(np.log(eps), np.log(r2), 1)[0] <= 2.2, r2


def test_revolve_and_subsampled_storage_3d(model3d, survey3d):
    """Revolve equals every step stored; so does the default under a memory limit that
    holds one shot's exact tape but not the call's two (it records this residual, cut at
    t_max, again with every step stored); the subsampled tape alone is close.

    float64: the Taylor test's kernels (and the 3-D white-cotangent dot test's) serve it.
    """
    full = engine(model3d, survey3d, dtype=np.float64)
    vp = model3d.values.astype(np.float64)
    observed = full.forward(np.full_like(vp, 2150.0))
    loss, g_full = full.misfit_gradient(vp, observed)
    revolve = engine(model3d, survey3d, checkpoints=4, dtype=np.float64)
    assert revolve.memory_plan(2).mode == "revolve"
    loss_rev, g_rev = revolve.misfit_gradient(vp, observed)
    # measured 0 for both (bit-identical)
    assert loss_rev == pytest.approx(loss, rel=1e-10)
    assert np.linalg.norm(g_rev - g_full) / np.linalg.norm(g_full) <= 1e-10
    one_shot = full.memory_plan(1).bytes_per_call
    auto = engine(model3d, survey3d, subsample="auto", dtype=np.float64,
                  memory_limit=3 * one_shot // 2)
    assert auto.subsample == 3 and auto.tape_engine(survey3d.n_shots) is auto
    _, g_auto = auto.misfit_gradient(vp, observed)
    assert auto.exact_recordings == survey3d.n_shots
    assert np.linalg.norm(g_auto - g_full) / np.linalg.norm(g_full) <= 1e-10  # measured 0
    fixed = engine(model3d, survey3d, subsample=3, dtype=np.float64)  # keeps its own tape
    _, g_sub = fixed.misfit_gradient(vp, observed)
    assert fixed.exact_recordings == 0
    assert np.linalg.norm(g_sub - g_full) / np.linalg.norm(g_full) <= 1e-3


def test_constant_velocity_trace_matches_3d_greens_function():
    """u = h³ s(t - r/c) / (4 pi r): amplitudes fall as 1/r, the pulse arrives at r/c.

    ``m u_tt - lap u = h³ s(t) δ(x)`` for the engine's node source of amplitude s.
    """
    c, h = 2000.0, 10.0
    vp = model_dataarray(np.full((36, 20, 20), c), h)
    offsets = np.array([100.0, 200.0])
    src = [60.0, 100.0, 100.0]
    rec = np.stack([60.0 + offsets, np.full(2, 100.0), np.full(2, 100.0)], axis=1)
    survey = Survey([src], rec, f0=15.0, t_max=0.3, dt=0.001)
    data = Propagator.from_model(vp, survey, boundary_width=20, dtype=np.float64).forward(
        vp.values.astype(np.float64))[0]
    peaks = np.abs(data).max(axis=0)
    assert peaks[0] / peaks[1] == pytest.approx(offsets[1] / offsets[0], rel=0.03)
    wavelet = survey.source_wavelet(survey.time)
    for j, r in enumerate(offsets):
        delay = int(round(r / c / survey.dt))
        analytic = h**3 * np.concatenate([np.zeros(delay), wavelet[: survey.nt - delay]]) / (
            4 * np.pi * r)
        assert abs(np.argmax(np.abs(data[:, j])) - np.argmax(np.abs(analytic))) <= 1
        error = np.linalg.norm(data[:, j] - analytic) / np.linalg.norm(analytic)
        assert error < 0.1, (r, error)


def test_free_surface_and_cpml_stay_stable_over_a_long_record(model3d, tmp_path):
    """3 s (~900 steps at 0.95 of the CFL step): the energy leaves through the C-PML."""
    survey = Survey.surface(model3d, 1, 4, f0=8.0, t_max=3.0)
    gathers = simulate(model3d, survey, free_surface=True, vmax=2800.0)
    data = gathers.values[0]
    assert np.all(np.isfinite(data))
    late = np.abs(data[gathers.time.values > 2.0]).max()
    assert late < 1e-3 * np.abs(data).max(), late
    # 3-D gathers: (shot, time, receiver) with x, y and z positions, read back by from_shots
    assert gathers.dims == ("shot", "time", "receiver")
    for coord in ("source_x", "source_y", "source_z", "receiver_x", "receiver_y", "receiver_z"):
        assert coord in gathers.coords
    again = Survey.from_shots(gathers)
    np.testing.assert_array_equal(again.receiver_positions, survey.receiver_positions)
    np.testing.assert_array_equal(again.source_positions, survey.source_positions)
    # ... and through SEG-Y, with the model as a cube: both come back exactly
    xr.testing.assert_identical(read_shots(write_shots(gathers, tmp_path / "g.sgy")), gathers)
    cube = read_segy(write_segy(model3d, tmp_path / "vp.sgy"))
    xr.testing.assert_equal(cube, model3d.astype(np.float32))
