"""Initial-model helpers: smoothing in metres, gradients, constants and the water mask."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from devito_crfwi.initial_models import constant, linear_gradient, smooth, water_mask
from tests.helpers import BAD_MODELS, model_dataarray, raises_at


@pytest.fixture
def marine():
    """30 x 20 at (10 m, 5 m): 1500 m/s water over 2000 m/s, sea floor deeper on the right."""
    vp = np.full((30, 20), 2000.0)
    for ix in range(30):
        vp[ix, : 4 + ix // 10] = 1500.0  # 4, 5 or 6 water cells
    da = model_dataarray(vp, 10.0)
    da = da.assign_coords(z=np.arange(20) * 5.0)
    da.attrs["source"] = "test"
    return da


def test_smooth_keeps_grid_and_attrs_and_leaves_input_alone(layered):
    before = layered.copy(deep=True)
    out = smooth(layered, sigma=30.0)
    xr.testing.assert_identical(layered, before)
    assert out.dims == ("x", "z") and out.shape == layered.shape
    np.testing.assert_array_equal(out.x, layered.x)
    np.testing.assert_array_equal(out.z, layered.z)
    assert out.attrs == layered.attrs and out.dtype == layered.dtype
    assert float(out.std()) < float(layered.std())
    assert float(out.mean()) == pytest.approx(float(layered.mean()), rel=1e-2)


def test_smooth_sigma_is_in_metres_per_axis():
    # A spike at z = 200 m, sampled at 10 m or 5 m: its smoothed width is sigma in m for both.
    for h in (10.0, 5.0):
        z = np.arange(int(400 / h)) * h
        vp = model_dataarray(np.where(z == 200.0, 3000.0, 2000.0)[None].repeat(4, 0), h)
        w = smooth(vp, 20.0).sel(x=0.0).values - 2000.0
        width = np.sqrt(np.sum(w * (z - 200.0) ** 2) / np.sum(w))
        assert width == pytest.approx(20.0, rel=0.02)
    # (sigma_x, sigma_z): sigma_x = 0 leaves x alone.
    row = model_dataarray(np.where(np.arange(20) < 10, 2000.0, 3000.0)[:, None].repeat(5, 1), 10.0)
    np.testing.assert_array_equal(smooth(row, (0.0, 50.0)).values, row.values)


def test_smooth_keep_preserves_the_water(marine):
    mask = water_mask(marine)
    out = smooth(marine, 50.0, keep=mask)
    np.testing.assert_array_equal(out.values[mask.values], 1500.0)
    assert not np.allclose(out.values[~mask.values], 2000.0)


def test_water_mask_follows_the_sea_floor(marine):
    mask = water_mask(marine)
    assert mask.dtype == bool and mask.dims == ("x", "z")
    np.testing.assert_array_equal(mask.values.sum(axis=1), [4 + ix // 10 for ix in range(30)])
    # Only the unbroken run from the top counts.
    vp = marine.copy()
    vp[:, 15] = 1500.0
    np.testing.assert_array_equal(water_mask(vp).values, mask.values)
    assert not water_mask(marine, velocity=1480.0).values.any()
    assert water_mask(marine, velocity=1480.0, tol=25.0).values.sum() == mask.values.sum()


def test_constant(layered):
    out = constant(layered, 2100.0)
    assert np.all(out.values == 2100.0) and out.attrs == layered.attrs
    with pytest.raises(ValueError, match="positive"):
        constant(layered, -1.0)


def test_linear_gradient_without_and_with_water(marine):
    z = marine.z.values
    out = linear_gradient(marine, 1800.0, 3000.0)
    np.testing.assert_allclose(out.values[0], 1800.0 + 1200.0 * z / z[-1], rtol=1e-6)
    flat = linear_gradient(marine, 1800.0, 3000.0, water_depth=20.0)
    np.testing.assert_array_equal(flat.values[:, :4], 1500.0)
    np.testing.assert_allclose(flat.values[:, 4], 1800.0)
    np.testing.assert_allclose(flat.values[:, -1], 3000.0)
    detected = linear_gradient(marine, 1800.0, 3000.0, water_velocity=1500.0)
    for ix in (0, 29):
        n = 4 + ix // 10
        np.testing.assert_array_equal(detected.values[ix, :n], 1500.0)
        assert detected.values[ix, n] == pytest.approx(1800.0)
    assert detected.values[:, -1] == pytest.approx(3000.0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda vp: smooth(vp.T, 10.0), ValueError, "transpose"),
        (lambda vp: smooth(vp.values, 10.0), TypeError, "DataArray"),
        (lambda vp: smooth(vp, -1.0), ValueError, "sigma"),
        (lambda vp: smooth(vp, 10.0, keep=np.ones((3, 3), bool)), ValueError, "keep"),
        (lambda vp: linear_gradient(vp, 0.0, 3000.0), ValueError, "v_top"),
        (lambda vp: linear_gradient(vp, 2000.0, 3000.0, water_depth=1e6), ValueError, "depth"),
        (lambda vp: water_mask(vp, tol=-1.0), ValueError, "tol"),
    ],
)
def test_bad_arguments_fail_clearly(layered, call, error, match):
    with pytest.raises(error, match=match):
        call(layered)


HELPERS = {
    "smooth": lambda vp: smooth(vp, 10.0),
    "constant": lambda vp: constant(vp, 2000.0),
    "linear_gradient": lambda vp: linear_gradient(vp, 1800.0, 3000.0),
    "water_mask": water_mask,
}


@pytest.mark.parametrize(("change", "error", "match"), BAD_MODELS)
@pytest.mark.parametrize("where", list(HELPERS))
def test_bad_models_are_refused(layered, where, change, error, match):
    with raises_at(where, error, match):
        HELPERS[where](change(layered))
