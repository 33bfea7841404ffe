"""The bundled SEG-Y samples: present, readable, and reproducible by their script."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import xarray as xr

from devito_crfwi.io import read_segy, read_shots, write_shots
from tests.helpers import SAMPLES


@pytest.fixture(scope="module")
def make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layered_salt_file(make_samples):
    model = read_segy(SAMPLES / "layered_salt.sgy")
    assert model.shape == (200, 80)
    np.testing.assert_array_equal(model.x.values, 20.0 * np.arange(200))
    np.testing.assert_array_equal(model.z.values, 20.0 * np.arange(80))
    assert float(model.min()) == 1500.0 and float(model.max()) == 4500.0
    assert np.all(model.values[:, :10] == 1500.0)  # 200 m of water
    np.testing.assert_array_equal(model.values, make_samples.build_layered_salt().values)


def test_committed_samples_fit_the_budget():
    total = sum(p.stat().st_size for p in SAMPLES.glob("*.sgy"))
    assert total <= 1024 * 1024


def test_script_writes_the_model(tmp_path, make_samples):
    assert make_samples.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "layered_salt.sgy").read_bytes() == (
        SAMPLES / "layered_salt.sgy"
    ).read_bytes()


def test_gather_resampling_for_the_shot_file(tmp_path, make_samples):
    dt, nt = 0.001, 2001
    time = dt * np.arange(nt)
    signal = np.sin(2 * np.pi * 6.0 * time)
    gathers = xr.DataArray(
        np.broadcast_to(signal[None, :, None], (2, nt, 3)).astype(np.float32),
        dims=("shot", "time", "receiver"),
        coords={
            "shot": np.arange(2),
            "time": time,
            "source_x": ("shot", [100.0, 200.0]),
            "source_z": ("shot", [20.0, 20.0]),
            "receiver_x": ("receiver", [0.0, 20.0, 40.0]),
            "receiver_z": ("receiver", [20.0, 20.0, 20.0]),
        },
        attrs={"f0": 6.0, "dt": dt, "units": "a.u."},
    )
    coarse = make_samples.resample_gathers(gathers, 0.010, 35.0)
    assert coarse.sizes == {"shot": 2, "time": 201, "receiver": 3}
    inner = slice(20, -20)  # away from the filter's edge effects
    expected = np.sin(2 * np.pi * 6.0 * coarse.time.values)
    np.testing.assert_allclose(coarse.values[0, inner, 0], expected[inner], atol=1e-2)
    write_shots(coarse, tmp_path / "s.sgy")
    xr.testing.assert_identical(read_shots(tmp_path / "s.sgy"), coarse)
