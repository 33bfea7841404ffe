"""Initial-model helpers: smoothing in metres, gradients, constants and the water mask."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter

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


# -- 3-D: the same helpers on (x, y, z) models ------------------------------------------------


@pytest.fixture
def marine_3d():
    """16 x 12 x 20 at (10 m, 20 m, 5 m): water over a sea floor 3 + (ix + iy) // 6 cells deep,
    a random rock below it (m/s)."""
    rng = np.random.default_rng(4)
    vp = rng.uniform(1800.0, 3500.0, (16, 12, 20))
    floor = 3 + np.add.outer(np.arange(16), np.arange(12)) // 6  # water cells per (x, y)
    vp[np.arange(20) < floor[..., None]] = 1500.0
    da = model_dataarray(vp, 10.0).assign_coords(y=np.arange(12) * 20.0, z=np.arange(20) * 5.0)
    return da.assign_attrs(source="test"), floor


def test_smooth_3d_is_scipy_gaussian_filter_in_cells_per_axis(marine_3d):
    vp, _ = marine_3d
    out = smooth(vp, (30.0, 40.0, 10.0))
    assert out.dims == ("x", "y", "z") and out.attrs == vp.attrs and out.dtype == vp.dtype
    # sigma in m over each axis' own spacing (10, 20, 5 m): 3, 2 and 2 cells.
    reference = gaussian_filter(vp.values.astype(np.float64), (3.0, 2.0, 2.0), mode="nearest")
    np.testing.assert_array_equal(out.values, reference.astype(np.float32))
    np.testing.assert_array_equal(smooth(vp, 20.0).values, gaussian_filter(
        vp.values.astype(np.float64), (2.0, 1.0, 4.0), mode="nearest").astype(np.float32))


def test_smooth_3d_of_an_extruded_model_is_the_2d_smooth_of_its_section(layered):
    # Constant along y, the 3-D Gaussian is the 2-D one whatever sigma_y: separability.
    extruded = layered.expand_dims(y=np.arange(5) * 10.0).transpose("x", "y", "z")
    out = smooth(extruded, (30.0, 70.0, 20.0))
    section = smooth(layered, (30.0, 20.0)).values
    for iy in range(5):
        np.testing.assert_allclose(out.values[:, iy], section, rtol=1e-6)


def test_water_mask_and_keep_in_3d(marine_3d):
    vp, floor = marine_3d
    mask = water_mask(vp)
    assert mask.dims == ("x", "y", "z") and mask.dtype == bool
    np.testing.assert_array_equal(mask.values.sum(axis=-1), floor)
    np.testing.assert_array_equal(mask.values, np.arange(20) < floor[..., None])
    out = smooth(vp, 50.0, keep=mask)
    np.testing.assert_array_equal(out.values[mask.values], 1500.0)


def test_linear_gradient_3d_starts_at_each_columns_sea_floor(marine_3d):
    vp, floor = marine_3d
    z = vp.z.values
    out = linear_gradient(vp, 1800.0, 3000.0, water_velocity=1500.0)
    assert out.dims == ("x", "y", "z")
    for ix, iy in [(0, 0), (15, 11), (7, 3), (2, 10)]:
        n = floor[ix, iy]
        expected = np.concatenate([np.full(n, 1500.0),
                                   1800.0 + 1200.0 * (z[n:] - z[n]) / (z[-1] - z[n])])
        np.testing.assert_allclose(out.values[ix, iy], expected, rtol=1e-6)
    flat = linear_gradient(vp, 1800.0, 3000.0, water_depth=10.0)  # two 5 m cells
    np.testing.assert_array_equal(flat.values[..., :2], 1500.0)
    np.testing.assert_allclose(flat.values[..., 2:], np.broadcast_to(
        1800.0 + 1200.0 * (z[2:] - 10.0) / (z[-1] - 10.0), (16, 12, 18)), rtol=1e-6)
    np.testing.assert_array_equal(constant(vp, 2100.0).values, 2100.0)


def test_3d_sigma_must_have_one_value_per_axis(marine_3d):
    vp, _ = marine_3d
    with pytest.raises(ValueError, match=r"sigma_x, sigma_y, sigma_z"):
        smooth(vp, (10.0, 20.0))
    with pytest.raises(ValueError, match=r"one value or \(sigma_x, sigma_z\)"):
        smooth(vp.isel(y=0, drop=True), (10.0, 20.0, 30.0))


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
