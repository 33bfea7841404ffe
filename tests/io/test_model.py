"""Velocity models through SEG-Y: round trips, foreign formats, spacing rules, unit guard."""

from __future__ import annotations

import os

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import SegyError, read_segy, write_segy
from devito_crfwi.io import segy_model as segy_model_module

TF = segyio.TraceField
BF = segyio.BinField
NUMPY_TYPE = {1: np.float32, 2: np.int32, 3: np.int16, 5: np.float32, 8: np.int8}


def make_model(nx=9, nz=6, dx=12.5, dz=7.5, x0=0.0, z0=0.0, dtype=np.float32) -> xr.DataArray:
    values = 1500.0 + np.arange(nx * nz, dtype=np.float64).reshape(nx, nz) * 37.25
    return xr.DataArray(
        values.astype(dtype),
        dims=("x", "z"),
        coords={"x": x0 + dx * np.arange(nx), "z": z0 + dz * np.arange(nz)},
        attrs={"units": "m/s"},
    )


def write_foreign(
    path,
    traces,
    *,
    fmt=5,
    endian="big",
    interval=0,
    headers=None,
    text=None,
):
    """Write a SEG-Y file with plain segyio, as another program would."""
    traces = np.asarray(traces)
    n, ns = traces.shape
    spec = segyio.spec()
    spec.format = fmt
    spec.samples = np.arange(ns)
    spec.tracecount = n
    spec.endian = endian
    with segyio.create(str(path), spec) as f:
        if text is not None:
            f.text[0] = segyio.tools.create_text_header({1: text})
        f.bin.update({BF.Interval: interval, BF.Samples: ns, BF.Format: fmt})
        for i in range(n):
            f.header[i] = dict(headers[i]) if headers else {}
            f.trace[i] = traces[i].astype(NUMPY_TYPE.get(fmt, np.float32))
    return path


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dx", "dz", "x0", "z0"),
    [
        (12.5, 12.5, 0.0, 0.0),
        (20.0, 7.5, 37.5, 100.0),
        (0.1, 0.3, 1000.0, 0.0),
        (3.0, 1 / 3, 0, 0),
        (25.0, 50.0, -100.0, 0),
    ],
)
def test_model_round_trip_is_exact(tmp_path, dx, dz, x0, z0):
    model = make_model(dx=dx, dz=dz, x0=x0, z0=z0)
    path = write_segy(model, tmp_path / "model.sgy")
    back = read_segy(path)
    assert back.dims == ("x", "z")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.values, model.values)
    np.testing.assert_array_equal(back.x.values, model.x.values)
    np.testing.assert_array_equal(back.z.values, model.z.values)
    assert back.x.dtype == np.float64 and back.z.dtype == np.float64
    assert back.attrs["units"] == "m/s"
    assert back.attrs["source"] == str(tmp_path / "model.sgy")
    assert f"dx={float(dx)!r} m" in back.attrs["textual_header"]


def test_written_model_reads_with_plain_segyio(tmp_path):
    model = make_model(dx=12.5, dz=7.5, x0=37.5)
    path = write_segy(model, tmp_path / "model.sgy")
    with segyio.open(str(path)) as f:  # strict geometry: one inline, crosslines 1..nx
        assert f.bin[BF.Format] == 5
        assert list(f.ilines) == [1]
        np.testing.assert_array_equal(segyio.tools.collect(f.trace[:]), model.values)
        assert f.bin[BF.Interval] == 7500  # dz in mm
        assert f.bin[BF.Samples] == model.sizes["z"]
        scalar = f.header[3][TF.SourceGroupScalar]
        assert scalar == -10
        assert f.header[3][TF.CDP_X] / -scalar == 37.5 + 3 * 12.5
        assert f.header[3][TF.TRACE_SEQUENCE_LINE] == 4
        text = f.text[0].decode("ascii", errors="replace")
        assert "dx=12.5 m dz=7.5 m" in text and "units=m/s" in text


def test_float64_model_is_stored_as_float32(tmp_path):
    model = make_model(dtype=np.float64)
    back = read_segy(write_segy(model, tmp_path / "m.sgy"))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.values, model.values.astype(np.float32))


def test_write_does_not_mutate_input(tmp_path):
    model = make_model()
    model.attrs["note"] = "kept"
    before = model.copy(deep=True)
    write_segy(model, tmp_path / "m.sgy")
    xr.testing.assert_identical(model, before)


# --- foreign files: formats, byte orders, geometry ------------------------------------------


@pytest.mark.parametrize("endian", ["big", "little"])
@pytest.mark.parametrize("fmt", [1, 2, 3, 5, 8])
def test_every_format_and_byte_order(tmp_path, fmt, endian):
    nx, nz = 5, 4
    if fmt == 8:  # one byte cannot hold m/s: store km/s integers
        traces = (1 + np.arange(nx * nz) % 5).reshape(nx, nz)
        units, expected = "km/s", traces * 1000.0
    else:
        traces = 1500 + 10 * np.arange(nx * nz).reshape(nx, nz)
        units, expected = None, traces
    path = write_foreign(tmp_path / f"f{fmt}{endian}.sgy", traces, fmt=fmt, endian=endian)
    model = read_segy(path, dx=10.0, dz=5.0, units=units)
    assert model.dtype == np.float32
    np.testing.assert_array_equal(model.values, expected.astype(np.float32))
    np.testing.assert_array_equal(model.x.values, 10.0 * np.arange(nx))
    np.testing.assert_array_equal(model.z.values, 5.0 * np.arange(nz))


def test_little_endian_headers_give_spacing(tmp_path):
    headers = [{TF.CDP_X: 250 * i, TF.SourceGroupScalar: -10} for i in range(4)]
    traces = np.full((4, 3), 2000.0)
    path = write_foreign(
        tmp_path / "le.sgy", traces, endian="little", interval=4000, headers=headers
    )
    model = read_segy(path)
    np.testing.assert_array_equal(model.x.values, [0.0, 25.0, 50.0, 75.0])
    np.testing.assert_array_equal(model.z.values, [0.0, 4.0, 8.0])


def test_3d_file_lines_and_cube(tmp_path):
    inlines, crosslines = np.meshgrid([1, 2, 3], [10, 11, 12, 13], indexing="ij")
    il, xl = inlines.ravel(), crosslines.ravel()
    shuffle = np.random.default_rng(0).permutation(il.size)  # traces in scrambled order
    il, xl = il[shuffle], xl[shuffle]
    traces = np.stack([np.full(5, 1000.0 * i + 10.0 * x) for i, x in zip(il, xl, strict=True)])
    headers = [{TF.INLINE_3D: int(i), TF.CROSSLINE_3D: int(x)} for i, x in zip(il, xl, strict=True)]
    path = write_foreign(tmp_path / "cube.sgy", traces, headers=headers)
    with pytest.raises(SegyError, match=r"cube\.sgy: no y spacing: .*pass dy=<metres>"):
        read_segy(path, dx=25.0, dz=10.0)  # no coordinates: the whole cube needs dy too
    cube = read_segy(path, dx=25.0, dy=50.0, dz=10.0)
    assert cube.dims == ("x", "y", "z") and cube.shape == (4, 3, 5)
    np.testing.assert_array_equal(cube.values[:, :, 0], 1000.0 * inlines.T + 10.0 * crosslines.T)
    np.testing.assert_array_equal(cube.y.values, [0.0, 50.0, 100.0])
    with pytest.raises(SegyError, match=r"dy=50\.0 was given but the model read is a 2-D line"):
        read_segy(path, dx=25.0, dy=50.0, dz=10.0, inline=2)
    line = read_segy(path, dx=25.0, dz=10.0, inline=2)
    assert line.shape == (4, 5)
    np.testing.assert_array_equal(line.values[:, 0], [2100.0, 2110.0, 2120.0, 2130.0])
    with pytest.raises(SegyError, match="inline 9 is not in the file"):
        read_segy(path, dx=25.0, dz=10.0, inline=9)
    column = read_segy(path, dx=25.0, dz=10.0, crossline=12)
    np.testing.assert_array_equal(column.values[:, 0], [1120.0, 2120.0, 3120.0])
    with pytest.raises(SegyError, match="inline=2 and crossline=12 were both given"):
        read_segy(path, dx=25.0, dz=10.0, inline=2, crossline=12)
    with pytest.raises(SegyError, match=r"crossline 9 is not in the file \(inlines 1..3, "
                                        r"crosslines 10..13\)"):
        read_segy(path, dx=25.0, dz=10.0, crossline=9)
    with pytest.raises(ValueError, match="crossline must be an int or None, got '12'"):
        read_segy(path, dx=25.0, dz=10.0, crossline="12")


def test_inline_on_a_2d_file_is_refused(tmp_path):
    path = write_segy(make_model(), tmp_path / "m.sgy")
    assert read_segy(path, inline=1).shape == (9, 6)  # its own single inline is fine
    with pytest.raises(SegyError, match="2-D line"):
        read_segy(path, inline=5)
    with pytest.raises(SegyError, match=r"crossline=3 was given but the file is a 2-D line"):
        read_segy(path, crossline=3)


def test_file_without_geometry_is_read_in_trace_order(tmp_path):
    traces = 1500.0 + np.arange(12.0).reshape(4, 3)
    path = write_foreign(tmp_path / "plain.sgy", traces)  # all header words 0
    model = read_segy(path, dx=5.0, dz=5.0)
    np.testing.assert_array_equal(model.values, traces)


# --- spacing: header versus argument -----------------------------------------------------


def test_spacing_arguments_override_the_file(tmp_path):
    path = write_segy(make_model(dx=12.5, dz=7.5, x0=50.0), tmp_path / "m.sgy")
    model = read_segy(path, dx=10.0, dz=2.0)
    np.testing.assert_array_equal(model.x.values, 50.0 + 10.0 * np.arange(9))
    np.testing.assert_array_equal(model.z.values, 2.0 * np.arange(6))


def test_textual_header_beats_trace_headers(tmp_path):
    headers = [{TF.CDP_X: 2500 * i, TF.SourceGroupScalar: -100} for i in range(4)]
    traces = np.full((4, 3), 2000.0)
    path = write_foreign(
        tmp_path / "t.sgy", traces, interval=9000, headers=headers, text="dx=12.5 m dz=3.0 m"
    )
    model = read_segy(path)
    np.testing.assert_array_equal(model.x.values, 12.5 * np.arange(4))  # origin from CDP_X
    np.testing.assert_array_equal(model.z.values, 3.0 * np.arange(3))


def test_non_positive_spacing_in_textual_header(tmp_path):
    path = write_foreign(tmp_path / "t.sgy", np.full((3, 2), 2000.0), text="dx=0 m dz=5 m")
    with pytest.raises(SegyError, match="textual header says dx=0; pass dx="):
        read_segy(path)
    assert read_segy(path, dx=2.0).x.values[1] == 2.0


def test_trace_coordinates_with_scalar_and_origin(tmp_path):
    headers = [{TF.SourceX: 1_000_000 + 1250 * i, TF.SourceGroupScalar: -100} for i in range(5)]
    path = write_foreign(
        tmp_path / "c.sgy", np.full((5, 2), 3000.0), interval=6250, headers=headers
    )
    model = read_segy(path)
    np.testing.assert_array_equal(model.x.values, 10_000.0 + 12.5 * np.arange(5))
    np.testing.assert_array_equal(model.z.values, [0.0, 6.25])


def test_missing_spacing_asks_for_it(tmp_path):
    path = write_foreign(tmp_path / "bare.sgy", np.full((3, 4), 2000.0), interval=5000)
    with pytest.raises(SegyError, match="pass dx="):
        read_segy(path)
    assert read_segy(path, dx=10.0).z.values[1] == 5.0
    nodz = write_foreign(tmp_path / "nodz.sgy", np.full((3, 4), 2000.0), interval=0)
    with pytest.raises(SegyError, match="pass dz="):
        read_segy(nodz, dx=10.0)
    tiny = write_foreign(tmp_path / "tiny.sgy", np.full((3, 4), 2000.0), interval=4)
    with pytest.raises(SegyError, match="implausible.*pass dz="):
        read_segy(tiny, dx=10.0)


def test_irregular_trace_coordinates_ask_for_dx(tmp_path):
    headers = [{TF.CDP_X: x} for x in (0, 10, 30, 35)]
    path = write_foreign(
        tmp_path / "irr.sgy", np.full((4, 2), 2000.0), interval=5000, headers=headers
    )
    with pytest.raises(SegyError, match="not regularly spaced.*pass dx="):
        read_segy(path)
    np.testing.assert_array_equal(read_segy(path, dx=10.0).x.values, [0.0, 10.0, 20.0, 30.0])


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), "ten"])
def test_bad_spacing_arguments(tmp_path, bad):
    path = write_segy(make_model(), tmp_path / "m.sgy")
    with pytest.raises(ValueError, match="dx must be a positive number"):
        read_segy(path, dx=bad)


# --- units -------------------------------------------------------------------------------


def test_kms_values_are_never_taken_as_ms(tmp_path):
    kms = 1.5 + np.arange(12.0).reshape(4, 3) * 0.25
    path = write_foreign(tmp_path / "kms.sgy", kms)
    with pytest.raises(SegyError, match="units='km/s'"):
        read_segy(path, dx=10.0, dz=10.0)
    with pytest.raises(SegyError, match="units='km/s'"):
        read_segy(path, dx=10.0, dz=10.0, units="m/s")
    model = read_segy(path, dx=10.0, dz=10.0, units="km/s")
    np.testing.assert_allclose(model.values, kms * 1000.0, rtol=1e-6)
    assert model.attrs["units"] == "m/s"


def test_kms_conversion_of_ms_data_is_refused(tmp_path):
    path = write_segy(make_model(), tmp_path / "m.sgy")
    with pytest.raises(SegyError, match="already in m/s"):
        read_segy(path, units="km/s")


def test_units_from_textual_header_and_feet(tmp_path):
    traces = np.full((3, 2), 2.5)
    path = write_foreign(tmp_path / "u.sgy", traces, text="units=km/s dx=10 dz=10")
    np.testing.assert_array_equal(read_segy(path).values, np.full((3, 2), 2500.0, np.float32))
    feet = write_foreign(tmp_path / "ft.sgy", np.full((3, 2), 10000.0))
    model = read_segy(feet, dx=1.0, dz=1.0, units="ft/s")
    np.testing.assert_allclose(model.values, 3048.0)
    with pytest.raises(ValueError, match="units must be one of"):
        read_segy(feet, dx=1.0, dz=1.0, units="mph")


# --- the writer refuses bad input and writes atomically -------------------------------------


def test_write_refuses_nan_and_inf(tmp_path):
    model = make_model()
    model[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf .*x=25 m"):
        write_segy(model, tmp_path / "nan.sgy")
    model[2, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        write_segy(model, tmp_path / "inf.sgy")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.transpose("z", "x"), r"dims \('x', 'z'\).*transpose"),
        (lambda m: m.rename(x="y"), r"dims \('x', 'z'\)"),
        (lambda m: m.expand_dims(y=[0.0]), r"dims \('x', 'z'\)"),
        (lambda m: m.drop_vars("z"), "needs a coordinate 'z'"),
        (lambda m: m.assign_attrs(units="km/s"), "must be 'm/s'"),
        (lambda m: m.assign_coords(x=m.x.values**1.5), "not regularly spaced"),
        (lambda m: m.isel(x=slice(None, None, -1)), "must increase"),
        (lambda m: m.isel(z=[0]), "at least 2 points"),
    ],
)
def test_write_refuses_bad_models(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        write_segy(change(make_model()), tmp_path / "bad.sgy")


def test_write_refuses_non_dataarray(tmp_path):
    with pytest.raises(TypeError, match="xarray.DataArray"):
        write_segy(np.ones((3, 3)), tmp_path / "bad.sgy")


def test_existing_file_needs_overwrite(tmp_path):
    path = write_segy(make_model(), tmp_path / "m.sgy")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_segy(make_model(dx=5.0), path)
    assert read_segy(path).x.values[1] == 12.5
    write_segy(make_model(dx=5.0), path, overwrite=True)
    assert read_segy(path).x.values[1] == 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sgy"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = write_segy(make_model(), tmp_path / "m.sgy")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(segy_model_module.segyio, "create", broken)
    with pytest.raises(OSError, match="disk full"):
        write_segy(make_model(dx=5.0), path, overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.sgy"]


def test_missing_output_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_segy(make_model(), tmp_path / "nope" / "m.sgy")


def test_over_65535_depth_samples_round_trip_through_segyio_and_read_segy(tmp_path):
    # The 2-byte sample count used to wrap (70 000 -> 4 464): neither reader opened the file.
    model = make_model(nx=2, nz=70_000, dz=0.5)
    model = model.copy(data=1500.0 + model.values % 3000.0)
    path = write_segy(model, tmp_path / "deep.sgy")
    xr.testing.assert_equal(read_segy(path), model)  # values, dims and coords
    with segyio.open(path, ignore_geometry=True) as f:
        assert f.samples.size == 70_000 and f.bin[segyio.BinField.ExtSamples] == 70_000
        assert set(f.attributes(segyio.TraceField.TRACE_SAMPLE_COUNT)[:]) == {0}
        np.testing.assert_array_equal(f.trace.raw[:], model.values)
