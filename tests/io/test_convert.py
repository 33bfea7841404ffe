"""Raw binary grids to SEG-Y: storage orders, units, size checks and the CLI command."""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.io import convert_binary, read_segy
from tests.helpers import NX, NZ, grid_kms


@pytest.mark.parametrize("order", ["xz", "zx"])
def test_convert_both_orders(tmp_path, order):
    grid = grid_kms()
    stored = grid if order == "xz" else grid.T  # zx: C-order (nz, nx), x fastest
    stored.astype("<f4").tofile(tmp_path / "in.bin")
    model = convert_binary(
        tmp_path / "in.bin",
        tmp_path / "out.sgy",
        shape=(NX, NZ),
        spacing=(12.5, 5.0),
        order=order,
        units="km/s",
    )
    back = read_segy(tmp_path / "out.sgy")
    np.testing.assert_allclose(back.values, grid * 1000.0, rtol=1e-6)
    np.testing.assert_array_equal(back.values, model.values)
    np.testing.assert_array_equal(back.x.values, 12.5 * np.arange(NX))
    np.testing.assert_array_equal(back.z.values, 5.0 * np.arange(NZ))


def test_big_endian_float64_with_origin(tmp_path):
    grid = grid_kms().astype(np.float64) * 1000.0
    grid.astype(">f8").tofile(tmp_path / "in.bin")
    convert_binary(
        tmp_path / "in.bin",
        tmp_path / "out.sgy",
        shape=(NX, NZ),
        spacing=(10.0, 10.0),
        dtype="float64",
        byteorder="big",
        origin=(500.0, 20.0),
    )
    back = read_segy(tmp_path / "out.sgy")
    np.testing.assert_array_equal(back.values, grid.astype(np.float32))
    assert back.x.values[0] == 500.0 and back.z.values[0] == 20.0


def test_wrong_size_says_what_would_fit(tmp_path):
    grid_kms().tofile(tmp_path / "in.bin")
    with pytest.raises(ValueError, match=r"is 112 bytes, but shape \(7, 5\) of float32 needs 140"):
        convert_binary(tmp_path / "in.bin", tmp_path / "o.sgy", shape=(NX, 5), spacing=(1, 1))
    with pytest.raises(ValueError, match="with nx=7 it would be nz=4"):
        convert_binary(tmp_path / "in.bin", tmp_path / "o.sgy", shape=(NX, 5), spacing=(1, 1))
    with pytest.raises(ValueError, match="the size fits dtype='float32'"):
        convert_binary(
            tmp_path / "in.bin", tmp_path / "o.sgy", shape=(NX, NZ), spacing=(1, 1), dtype="float64"
        )
    assert not (tmp_path / "o.sgy").exists()


def test_kms_guard_and_wrong_byte_order(tmp_path):
    grid_kms().astype("<f4").tofile(tmp_path / "in.bin")
    with pytest.raises(ValueError, match="units='km/s'"):
        convert_binary(tmp_path / "in.bin", tmp_path / "o.sgy", shape=(NX, NZ), spacing=(1, 1))
    with pytest.raises(ValueError, match="byteorder"):
        convert_binary(
            tmp_path / "in.bin",
            tmp_path / "o.sgy",
            shape=(NX, NZ),
            spacing=(1, 1),
            units="km/s",
            byteorder="big",
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "yx"}, "order must be"),
        ({"units": "mph"}, "units must be one of"),
        ({"dtype": "complex64"}, "dtype must be one of"),
        ({"spacing": (0.0, 1.0)}, "spacing must be"),
        ({"shape": (NX,)}, "shape must be two numbers"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    grid_kms().tofile(tmp_path / "in.bin")
    arguments = {"shape": (NX, NZ), "spacing": (1.0, 1.0), "units": "km/s", **kwargs}
    with pytest.raises(ValueError, match=message):
        convert_binary(tmp_path / "in.bin", tmp_path / "o.sgy", **arguments)


def test_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        convert_binary(tmp_path / "none.bin", tmp_path / "o.sgy", shape=(2, 2), spacing=(1, 1))
