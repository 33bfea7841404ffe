"""io.schema: the one model and gather validator, through the io entry points, and the
readers refusing each other's files."""

from __future__ import annotations

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import (
    MODEL_DIMS,
    SHOT_DIMS,
    SegyError,
    check_model,
    check_shots,
    read_segy,
    read_shots,
    sample_path,
    write_segy,
    write_shots,
)
from devito_crfwi.io.schema import check_velocities
from tests.helpers import BAD_MODELS, BAD_SHOTS, model_dataarray, raises_at
from tests.io.test_model import write_foreign
from tests.io.test_shots import _write_foreign_shots, make_gathers

TF = segyio.TraceField


@pytest.fixture
def model() -> xr.DataArray:
    """8 x 6 cells at 10 m, 1500 to 2440 m/s."""
    return model_dataarray(1500.0 + 20.0 * np.arange(48.0).reshape(8, 6), 10.0)


def test_dims_are_defined_once():
    assert MODEL_DIMS == ("x", "z") and SHOT_DIMS == ("shot", "time", "receiver")


# --- check_model -------------------------------------------------------------------------


def test_check_model_returns_values_and_grid():
    vp = model_dataarray(np.full((5, 4), 2000.0), 12.5, origin=(100.0, -25.0))
    checked = check_model(vp)
    assert checked.values is vp.values  # not copied
    assert checked.shape == (5, 4)
    assert checked.origin == (100.0, -25.0) and checked.spacing == (12.5, 12.5)
    np.testing.assert_array_equal(checked.x, vp.x.values)
    assert checked.z.dtype == np.float64


@pytest.mark.parametrize("attrs", [{}, {"units": "m/s"}, {"units": "m s-1"}])
def test_units_attribute_is_optional_and_may_be_cf(model, attrs):
    check_model(model.drop_attrs().assign_attrs(attrs))


@pytest.mark.parametrize(("change", "error", "match"), BAD_MODELS)
@pytest.mark.parametrize("entry", ["check_model", "write_segy"])
def test_bad_models_are_refused(model, tmp_path, entry, change, error, match):
    bad = change(model)
    if entry == "check_model":
        with raises_at("read", error, match):
            check_model(bad, where="read")
    else:
        with raises_at("write_segy", error, match):
            write_segy(bad, tmp_path / "bad.sgy")
        assert not list(tmp_path.iterdir())


def test_check_model_names_the_argument(model):
    with pytest.raises(ValueError, match=r"^initial must have dims"):
        check_model(model.T, "initial")


def test_float32_coordinates_regular_to_float32_precision_are_accepted(model):
    # Rounding to float32 moves each value by up to half an ulp: steps of 12.345 m up to
    # x = 728 m differ by up to ~6e-5 m (5e-6 of the step), beyond a 1e-6 step tolerance.
    x = np.arange(60, dtype=np.float32) * np.float32(12.345)
    steps = np.diff(x.astype(np.float64))
    assert np.ptp(steps) > 1e-6 * 12.345  # what used to be refused as irregular
    vp = xr.DataArray(np.full((60, 6), 2000.0, np.float32), dims=MODEL_DIMS,
                      coords={"x": x, "z": model.z.values.astype(np.float32)})
    checked = check_model(vp)
    assert checked.spacing[0] == pytest.approx(12.345, rel=1e-6)
    assert checked.spacing[1] == 10.0
    # float32 gathers' time axis alike
    gathers = make_gathers()
    time = np.arange(gathers.sizes["time"], dtype=np.float32) * np.float32(0.002)
    assert check_shots(gathers.assign_coords(time=time)) == pytest.approx(0.002, rel=1e-6)


def test_float32_coordinates_still_need_a_regular_grid():
    x = np.arange(60, dtype=np.float32) * np.float32(12.345)
    x[30:] += np.float32(0.01)  # one step 0.01 m (8e-4) longer: far above float32 rounding
    vp = xr.DataArray(np.full((60, 6), 2000.0), dims=MODEL_DIMS,
                      coords={"x": x, "z": 10.0 * np.arange(6)})
    with pytest.raises(ValueError, match="coordinate 'x' is not regularly spaced"):
        check_model(vp)


def test_check_velocities_is_the_numeric_part():
    values = np.full((3, 3), 2000.0)
    assert check_velocities(values) is values
    values[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"^vp holds 1 NaN or Inf values \(first at index \(1, 2"):
        check_velocities(values)


def test_write_then_read_never_disagree(model, tmp_path):
    """What write_segy accepts read_segy reads back as is; what it refuses, it refuses."""
    back = read_segy(write_segy(model, tmp_path / "m.sgy"))
    xr.testing.assert_equal(back, model)
    with pytest.raises(ValueError, match="looks like km/s"):
        write_segy(model / 1000, tmp_path / "kms.sgy")  # read_segy would refuse it too


def test_read_segy_refuses_ft_s_looking_values(tmp_path):
    path = write_foreign(tmp_path / "ft.sgy", np.full((3, 2), 14000.0))
    with pytest.raises(SegyError, match=r"ft\.sgy: the largest velocity is 14000.*units='ft/s'"):
        read_segy(path, dx=1.0, dz=1.0)
    np.testing.assert_allclose(read_segy(path, dx=1.0, dz=1.0, units="ft/s").values, 4267.2)


# --- check_shots -------------------------------------------------------------------------


def test_check_shots_returns_dt():
    gathers = make_gathers()
    assert check_shots(gathers) == 0.002
    assert check_shots(gathers.drop_attrs()) == 0.002
    bare = xr.DataArray(gathers.values, dims=SHOT_DIMS)
    assert check_shots(bare, complete=False) is None
    assert check_shots(bare.assign_attrs(dt=0.004), complete=False) == 0.004


@pytest.mark.parametrize("coord", ["time", "source_x", "source_z", "receiver_x", "receiver_z"])
def test_complete_gathers_need_every_coord(coord):
    gathers = make_gathers().drop_vars(coord)
    with raises_at("write_shots", ValueError, f"da needs a coordinate '{coord}'"):
        check_shots(gathers, "da", where="write_shots")
    check_shots(gathers, complete=False)


@pytest.mark.parametrize(("change", "error", "match"), BAD_SHOTS)
def test_write_shots_refuses_bad_gathers(tmp_path, change, error, match):
    with raises_at("write_shots", error, match):
        write_shots(change(make_gathers()), tmp_path / "bad.sgy")
    assert not list(tmp_path.iterdir())


def test_gathers_that_are_not_a_dataarray():
    with raises_at("write_shots", TypeError, r"da must be an xarray.DataArray .*got numpy"):
        write_shots(make_gathers().values, "never.sgy")


# --- each reader refuses the other's files -------------------------------------------------


def test_read_shots_refuses_the_sample_model():
    path = sample_path("layered_salt.sgy")
    with pytest.raises(SegyError, match=rf"^{path}: looks like a velocity model.*read_segy"):
        read_shots(path)


def test_read_segy_refuses_the_sample_gathers():
    path = sample_path("layered_salt_shots.sgy")
    with pytest.raises(SegyError, match=rf"^{path}: holds shot gathers.*read_shots"):
        read_segy(path, dx=20.0, dz=20.0)


def test_read_shots_refuses_a_foreign_model(tmp_path):
    """One trace per x position, no FieldRecord, no offsets: a model, whoever wrote it."""
    headers = [{TF.CDP_X: 10 * i, TF.SourceX: 10 * i, TF.GroupX: 10 * i} for i in range(5)]
    path = write_foreign(tmp_path / "vel.sgy", np.full((5, 4), 2000.0), interval=4000,
                         headers=headers)
    with pytest.raises(SegyError, match=r"vel\.sgy: looks like a velocity model.*one trace per "
                                        r"x position.*read it with read_segy"):
        read_shots(path)
    blank = write_foreign(tmp_path / "blank.sgy", np.full((5, 4), 2000.0), interval=4000)
    with pytest.raises(SegyError, match=r"blank\.sgy: looks like a velocity model"):
        read_shots(blank)
    assert read_segy(path, dz=10.0).shape == (5, 4)


def test_read_segy_refuses_foreign_gathers(tmp_path):
    path = _write_foreign_shots(tmp_path / "g.sgy", ffid=[0] * 4, sx=[0, 0, 9, 9], gx=[1, 2, 3, 4])
    with pytest.raises(SegyError, match=r"g\.sgy: holds shot gathers, not a velocity model "
                                        r"\(2 source position\(s\) .*read it with read_shots"):
        read_segy(path, dx=10.0, dz=10.0)
    assert read_shots(path).shape == (2, 6, 2)


def test_single_receiver_gathers_still_round_trip(tmp_path):
    """One trace per shot is a model only without FieldRecord: our writer always sets it."""
    gathers = make_gathers(n_rec=1)
    back = read_shots(write_shots(gathers, tmp_path / "one.sgy"))
    xr.testing.assert_identical(back, gathers)


def test_3d_models_and_gathers_go_through_the_writers(tmp_path):
    """The writers refused these before SEG-Y cubes and 3-D gathers; now they round-trip."""
    import xarray as xr

    from devito_crfwi.io import read_segy, read_shots, write_segy, write_shots

    cube = xr.DataArray(np.full((4, 3, 5), 2000.0, np.float32), dims=("x", "y", "z"),
                        coords={"x": np.arange(4) * 10.0, "y": np.arange(3) * 10.0,
                                "z": np.arange(5) * 10.0}, attrs={"units": "m/s"})
    xr.testing.assert_equal(read_segy(write_segy(cube, tmp_path / "cube.sgy")), cube)
    gathers = xr.DataArray(np.ones((1, 4, 2), np.float32), dims=("shot", "time", "receiver"),
                           coords={"shot": [0], "time": np.arange(4) * 0.002,
                                   "source_x": ("shot", [0.0]), "source_y": ("shot", [0.0]),
                                   "source_z": ("shot", [10.0]),
                                   "receiver_x": ("receiver", [0.0, 10.0]),
                                   "receiver_y": ("receiver", [0.0, 10.0]),
                                   "receiver_z": ("receiver", [10.0, 10.0])},
                           attrs={"dt": 0.002, "units": "a.u.", "f0": 10.0})
    xr.testing.assert_identical(read_shots(write_shots(gathers, tmp_path / "shots.sgy")),
                                gathers)
    with pytest.raises(ValueError, match="write_shots: da has a coordinate 'source_y' but no "
                                         "'receiver_y': gathers of a 3-D survey need both"):
        write_shots(gathers.drop_vars("receiver_y"), tmp_path / "half.sgy")
    assert not (tmp_path / "half.sgy").exists()
