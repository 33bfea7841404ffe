"""Metrics against hand-computed values."""

import ast
import math

import numpy as np
import pytest
import xarray as xr

import devito_crfwi.metrics
from devito_crfwi.metrics import all_metrics, mse, psnr, rmse, ssim


def ramp() -> np.ndarray:
    """(40, 30) model from 1500 to 4500 m/s with depth: range 3000 m/s."""
    return np.tile(np.linspace(1500.0, 4500.0, 30), (40, 1))


def test_constant_offset_by_hand():
    true = ramp()
    est = true + 30.0  # m/s
    assert mse(est, true) == pytest.approx(900.0)  # (m/s)²
    assert rmse(est, true) == pytest.approx(30.0)  # m/s
    assert mse(est, true, units="km/s") == pytest.approx(900e-6)  # (km/s)²
    assert rmse(est, true, units="km/s") == pytest.approx(0.03)  # km/s
    assert psnr(est, true) == pytest.approx(40.0)  # 10 log10(3000² / 900)


def test_mse_of_a_single_wrong_cell():
    true = np.full((4, 5), 2000.0)
    est = true.copy()
    est[1, 2] += 200.0
    assert mse(est, true) == pytest.approx(200.0**2 / 20)


def test_ssim_identical_is_one_and_noise_lowers_it():
    true = ramp()
    assert ssim(true, true) == pytest.approx(1.0)
    assert psnr(true, true) == math.inf
    noise = np.random.default_rng(0).normal(0.0, 300.0, true.shape)
    assert ssim(true + noise, true) < 0.9


def test_ssim_of_an_offset_by_hand():
    true = ramp()
    est = true + 30.0
    # An offset keeps variances and covariance, so SSIM is its luminance term averaged over the
    # 7 x 7 windows inside the 3-cell border; on a linear ramp a window's mean is its centre.
    mu = true[3:-3, 3:-3]
    c1 = (0.01 * 3000.0) ** 2  # K1 = 0.01, data range 3000 m/s
    luminance = (2 * mu * (mu + 30.0) + c1) / (mu**2 + (mu + 30.0) ** 2 + c1)
    assert ssim(est, true) == pytest.approx(luminance.mean(), rel=1e-9)


def _ssim_by_windows(est: np.ndarray, true: np.ndarray, width: int = 7) -> float:
    """SSIM from its definition (Wang et al. 2004), window by window: uniform windows of
    ``width`` cells per axis wholly inside the model, sample (co)variances, K1 = 0.01,
    K2 = 0.03, data range max(true) - min(true)."""
    c1, c2 = (0.01 * np.ptp(true)) ** 2, (0.03 * np.ptp(true)) ** 2
    scores = []
    for corner in np.ndindex(*(n - width + 1 for n in true.shape)):
        window = tuple(slice(i, i + width) for i in corner)
        a, b = est[window].ravel(), true[window].ravel()
        cov = np.cov(a, b)  # ddof = 1
        scores.append((2 * a.mean() * b.mean() + c1) * (2 * cov[0, 1] + c2)
                      / ((a.mean() ** 2 + b.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)))
    return float(np.mean(scores))


def test_ssim_matches_its_definition_in_2d_and_3d():
    rng = np.random.default_rng(2)
    for shape in [(14, 11), (12, 10, 9)]:
        true = 2000.0 + 1000.0 * rng.random(shape)
        est = true + rng.normal(0.0, 200.0, shape)
        assert ssim(est, true) == pytest.approx(_ssim_by_windows(est, true), rel=1e-9)


def test_3d_metrics_by_hand():
    # (x, y, z) ramp with depth, offset by 30 m/s: MSE 900, PSNR 40 dB, and SSIM the luminance
    # term over the 7 x 7 x 7 windows (centres 3 cells inside every face).
    true = np.broadcast_to(np.linspace(1500.0, 4500.0, 30), (12, 9, 30)).copy()
    est = xr.DataArray(true + 30.0, dims=("x", "y", "z"))
    assert mse(est, true) == pytest.approx(900.0)
    assert psnr(est, true) == pytest.approx(40.0)
    mu = true[3:-3, 3:-3, 3:-3]
    c1 = (0.01 * 3000.0) ** 2
    luminance = (2 * mu * (mu + 30.0) + c1) / (mu**2 + (mu + 30.0) ** 2 + c1)
    assert ssim(est, true) == pytest.approx(luminance.mean(), rel=1e-9)
    assert all_metrics(est.transpose("z", "x", "y"), est)["ssim"] == pytest.approx(1.0)


def test_all_metrics_keys_and_values():
    true = ramp()
    out = all_metrics(true + 30.0, true, units="km/s")
    assert set(out) == {"mse", "rmse", "psnr", "ssim"}
    assert out["mse"] == pytest.approx(9e-4) and out["psnr"] == pytest.approx(40.0)


def test_dataarrays_are_accepted_and_aligned_by_dims():
    true = xr.DataArray(ramp(), dims=("x", "z"))
    est = (true + 30.0).transpose("z", "x")
    assert mse(est, true) == pytest.approx(900.0)
    assert ssim(est, true) == pytest.approx(ssim(true.values + 30.0, true.values))


def test_inputs_are_not_modified():
    true, est = ramp(), ramp() + 30.0
    copies = true.copy(), est.copy()
    all_metrics(est, true)
    np.testing.assert_array_equal(true, copies[0])
    np.testing.assert_array_equal(est, copies[1])


def test_errors_name_the_problem():
    true = ramp()
    with pytest.raises(ValueError, match=r"\(30, 40\) and \(40, 30\)"):
        mse(true.T, true)
    with pytest.raises(ValueError, match="units must be one of"):
        mse(true, true, units="ft/s")
    with pytest.raises(ValueError, match=r"7 cells along every axis, got shape \(9, 9, 6\)"):
        ssim(np.full((9, 9, 6), 2000.0), np.full((9, 9, 6), 2000.0))
    with pytest.raises(ValueError, match="non-constant true model"):
        psnr(true, np.full(true.shape, 2000.0))


def test_metrics_import_neither_torch_nor_devito():
    tree = ast.parse(open(devito_crfwi.metrics.__file__).read())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {name.split(".")[0] for name in names} & {"torch", "devito", "xarray"}


def _on_grid(values: np.ndarray, x0: float = 0.0, dz: float = 10.0) -> xr.DataArray:
    nx, nz = values.shape
    return xr.DataArray(values, dims=("x", "z"),
                        coords={"x": x0 + 10.0 * np.arange(nx), "z": dz * np.arange(nz)})


@pytest.mark.parametrize(("estimate", "match"), [
    (_on_grid(ramp(), x0=20.0), r"along 'x' coordinate 0 is 20 m, true's 0 m \(estimate: "
                                r"x0=20 m, dx=10 m; true: x0=0 m, dx=10 m\)"),
    (_on_grid(ramp(), dz=12.5), r"along 'z' coordinate 1 is 12.5 m, true's 10 m"),
    (_on_grid(ramp(), x0=20.0).transpose("z", "x"), r"along 'x' coordinate 0 is 20 m"),
])
@pytest.mark.parametrize("metric", [mse, psnr, ssim, all_metrics])
def test_models_on_other_grids_are_refused(metric, estimate, match):
    # Identical values on shifted or stretched coords used to score a perfect 0 error.
    with pytest.raises(ValueError, match=r"estimate is not on true's grid: " + match):
        metric(estimate, _on_grid(ramp()))


def test_models_on_one_grid_are_compared():
    true = _on_grid(ramp())
    assert mse(_on_grid(ramp() + 30.0).transpose("z", "x"), true) == pytest.approx(900.0)
    assert mse(ramp() + 30.0, true) == pytest.approx(900.0)  # a plain array: by shape
