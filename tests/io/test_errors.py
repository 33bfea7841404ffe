"""Bad SEG-Y files fail early with a SegyError that names the file and the problem."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import SegyError, read_segy, read_shots, write_segy, write_shots

READERS = [
    pytest.param(lambda p: read_segy(p, dx=10.0, dz=10.0), id="read_segy"),
    pytest.param(read_shots, id="read_shots"),
]


@pytest.fixture
def good_file(tmp_path):
    """A valid 6-trace, 5-sample model file written by our writer."""
    model = xr.DataArray(
        np.full((6, 5), 2000.0, np.float32),
        dims=("x", "z"),
        coords={"x": 10.0 * np.arange(6), "z": 10.0 * np.arange(5)},
        attrs={"units": "m/s"},
    )
    return write_segy(model, tmp_path / "good.sgy")


def _patch(path, offset, fmt, value):
    with open(path, "r+b") as stream:
        stream.seek(offset)
        stream.write(struct.pack(fmt, value))


@pytest.mark.parametrize("read", READERS)
def test_missing_file(tmp_path, read):
    with pytest.raises(SegyError, match=r"nope\.sgy: no such file"):
        read(tmp_path / "nope.sgy")


@pytest.mark.parametrize("read", READERS)
def test_folder_instead_of_file(tmp_path, read):
    with pytest.raises(SegyError, match="is a folder"):
        read(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize("read", READERS)
def test_unreadable_file(good_file, read):
    good_file.chmod(0)
    with pytest.raises(SegyError, match="cannot be read"):
        read(good_file)


@pytest.mark.parametrize("read", READERS)
def test_text_only_file(tmp_path, read):
    path = tmp_path / "text.sgy"
    path.write_bytes(segyio.tools.create_text_header({1: "only a header"}).encode("ascii"))
    with pytest.raises(SegyError, match=r"text\.sgy: file is 3200 bytes, shorter than"):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_empty_file(tmp_path, read):
    path = tmp_path / "empty.sgy"
    path.write_bytes(b"")
    with pytest.raises(SegyError, match="file is 0 bytes"):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_zero_traces(good_file, tmp_path, read):
    path = tmp_path / "headers_only.sgy"
    path.write_bytes(good_file.read_bytes()[:3600])
    with pytest.raises(SegyError, match="zero traces"):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_truncated_file(good_file, tmp_path, read):
    path = tmp_path / "cut.sgy"
    path.write_bytes(good_file.read_bytes()[:-7])
    with pytest.raises(SegyError, match=r"cut\.sgy: .*not a whole number of traces.*truncated"):
        read(path)


@pytest.mark.parametrize("read", READERS)
def test_trace_of_another_length(good_file, tmp_path, read):
    path = tmp_path / "ragged.sgy"
    data = good_file.read_bytes()
    path.write_bytes(data + data[3600 : 3600 + 240] + b"\0" * 8)  # one extra 2-sample trace
    with pytest.raises(SegyError, match="different sample counts"):
        read(path)


def _shots_file(tmp_path):
    shots = xr.DataArray(
        np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3),
        dims=("shot", "time", "receiver"),
        coords={"time": 0.002 * np.arange(5), "source_x": ("shot", [0.0, 20.0]),
                "source_z": ("shot", [0.0, 0.0]), "receiver_x": ("receiver", [0.0, 10.0, 20.0]),
                "receiver_z": ("receiver", [0.0, 0.0, 0.0])},
    )
    return write_shots(shots, tmp_path / "good_shots.sgy")


@pytest.mark.parametrize(("make", "read"), [
    pytest.param(None, lambda p: read_segy(p).values, id="read_segy"),
    pytest.param(_shots_file, lambda p: read_shots(p).values.transpose(0, 2, 1).reshape(6, 5),
                 id="read_shots"),
])
def test_inconsistent_sample_counts_in_trace_headers_warn(good_file, tmp_path, make, read):
    """The binary header's sample count wins, as in segyio, with a warning."""
    path = make(tmp_path) if make else good_file
    with segyio.open(str(path), "r+", ignore_geometry=True) as f:
        f.header[2] = {segyio.TraceField.TRACE_SAMPLE_COUNT: 7}
        expected = f.trace.raw[:]
    message = (r"good(_shots)?\.sgy: inconsistent sample counts: trace 3 says 7 samples but "
               r"the binary header says 5 .*as segyio does")
    with pytest.warns(UserWarning, match=message) as record:
        values = read(path)
    assert record[0].filename == __file__
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("read", READERS)
def test_zero_sample_count(good_file, read):
    _patch(good_file, 3220, ">H", 0)  # binary header: samples per trace
    _patch(good_file, 3600 + 114, ">H", 0)  # first trace header: samples in this trace
    with pytest.raises(SegyError, match="sample count .* is 0 .the first trace header says 0"):
        read(good_file)


@pytest.mark.parametrize("read", READERS)
def test_sample_count_only_in_trace_headers(good_file, read):
    _patch(good_file, 3220, ">H", 0)
    with pytest.raises(SegyError, match="is 0 .the first trace header says 5.*rewrite"):
        read(good_file)


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("code", [4, 7, 15])
def test_unsupported_format_code(good_file, read, code):
    _patch(good_file, 3224, ">h", code)
    with pytest.raises(
        SegyError, match=f"sample format code {code} .*not supported.*supported codes"
    ):
        read(good_file)


@pytest.mark.parametrize("read", READERS)
def test_garbage_format_code(good_file, read):
    _patch(good_file, 3224, ">h", 999)
    with pytest.raises(SegyError, match="neither of which is a SEG-Y format code"):
        read(good_file)


@pytest.mark.parametrize("read", READERS)
def test_random_bytes(tmp_path, read):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 9000, dtype=np.uint8).tobytes())
    with pytest.raises(SegyError, match=r"noise\.bin"):
        read(path)


def test_nan_samples_are_refused(tmp_path):
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = 5, np.arange(3), 2
    path = tmp_path / "nan.sgy"
    with segyio.create(str(path), spec) as f:
        f.trace[0] = np.array([2000, 2000, 2000], np.float32)
        f.trace[1] = np.array([2000, np.nan, 2000], np.float32)
    with pytest.raises(SegyError, match="1 samples are NaN or Inf .first in trace 2"):
        read_segy(path, dx=1.0, dz=1.0)
    with pytest.raises(SegyError, match="NaN or Inf"):
        read_shots(path)


def test_segy_error_is_a_value_error_and_pickles(tmp_path):
    err = SegyError(tmp_path / "x.sgy", "broken", "fix it")
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) == f"{tmp_path / 'x.sgy'}: broken; fix it"
    assert again.path == err.path and again.problem == "broken" and again.hint == "fix it"


def test_io_imports_neither_torch_nor_devito():
    """devito_crfwi.io sits at the bottom of the layers: numpy, segyio, xarray (pooch lazily)."""
    import ast
    import sys
    from pathlib import Path

    import devito_crfwi.io

    allowed = {"numpy", "segyio", "xarray", "pooch", "__future__"}
    for source in Path(devito_crfwi.io.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level <= 1, (
                    f"{source.name} imports from outside io: {ast.dump(node)}")
                roots = [node.module.split(".")[0]] if node.level == 0 and node.module else []
            else:
                continue
            for root in roots:
                third_party = root not in sys.stdlib_module_names
                assert not third_party or root in allowed, f"{source.name} imports {root}"
