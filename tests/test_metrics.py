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
    with pytest.raises(ValueError, match="non-constant true model"):
        psnr(true, np.full(true.shape, 2000.0))


def test_metrics_import_neither_torch_nor_devito():
    tree = ast.parse(open(devito_crfwi.metrics.__file__).read())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {name.split(".")[0] for name in names} & {"torch", "devito", "xarray"}
