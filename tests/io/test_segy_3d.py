"""3-D through SEG-Y: velocity cubes (x, y, z) and gathers of 3-D surveys.

Files are checked against segyio's own reading (``segyio.tools.cube``, ``f.iline``,
``f.attributes``), and foreign files are written with plain segyio, not our writers.
"""

from __future__ import annotations

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import SegyError, read_segy, read_shots, write_segy, write_shots

TF = segyio.TraceField
BF = segyio.BinField


def make_cube(nx=5, ny=3, nz=4, dx=12.5, dy=25.0, dz=5.0, x0=100.0, y0=-50.0) -> xr.DataArray:
    values = 1500.0 + np.arange(nx * ny * nz, dtype=np.float64).reshape(nx, ny, nz) * 7.25
    return xr.DataArray(
        values.astype(np.float32), dims=("x", "y", "z"),
        coords={"x": x0 + dx * np.arange(nx), "y": y0 + dy * np.arange(ny),
                "z": dz * np.arange(nz)},
        attrs={"units": "m/s"},
    )


def write_foreign_cube(path, inlines, crosslines, traces, *, headers=None, interval=5000):
    """Write post-stack traces with plain segyio, in the order given, as another program."""
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = 5, np.arange(traces.shape[1]), len(traces)
    with segyio.create(str(path), spec) as f:
        f.bin.update({BF.Interval: interval})
        for t, (il, xl) in enumerate(zip(inlines, crosslines, strict=True)):
            f.header[t] = {TF.INLINE_3D: int(il), TF.CROSSLINE_3D: int(xl),
                           **(headers[t] if headers else {})}
            f.trace[t] = traces[t].astype(np.float32)
    return path


def grid(inline_numbers, crossline_numbers, seed=0):
    """Every (inline, crossline) pair once, shuffled, with distinct traces of 6 samples."""
    il, xl = (a.ravel() for a in np.meshgrid(inline_numbers, crossline_numbers, indexing="ij"))
    shuffle = np.random.default_rng(seed).permutation(il.size)
    il, xl = il[shuffle], xl[shuffle]
    traces = 2000.0 + 10.0 * il[:, None] + xl[:, None] + 0.25 * np.arange(6)
    return il, xl, traces


# --- cubes -------------------------------------------------------------------------------


def test_cube_round_trip_is_exact_and_segyio_sees_a_structured_file(tmp_path):
    cube = make_cube()
    path = write_segy(cube, tmp_path / "cube.sgy")
    back = read_segy(path)
    xr.testing.assert_equal(back, cube)
    assert back.dtype == np.float32 and all(back[d].dtype == np.float64 for d in "xyz")
    assert back.attrs["units"] == "m/s" and back.attrs["source"] == str(path)
    assert "dy=25.0 m y0=-50.0 m" in back.attrs["textual_header"]
    with segyio.open(str(path)) as f:  # strict geometry, not ignore_geometry
        assert f.sorting == segyio.TraceSortingFormat.INLINE_SORTING
        np.testing.assert_array_equal(f.ilines, [1, 2, 3])
        np.testing.assert_array_equal(f.xlines, [1, 2, 3, 4, 5])
        assert f.samples.size == 4
        np.testing.assert_array_equal(segyio.tools.cube(f), cube.values.transpose(1, 0, 2))
        np.testing.assert_array_equal(f.iline[2], cube.isel(y=1).values)
        np.testing.assert_array_equal(f.xline[4], cube.isel(x=3).values)
        header = f.header[f.tracecount - 1]  # last inline, last crossline
        assert header[TF.SourceGroupScalar] == -10
        assert (header[TF.CDP_X], header[TF.CDP_Y]) == (1500, 0)  # 150 m, 0 m in tenths
        assert (header[TF.GroupX], header[TF.SourceY]) == (1500, 0)


def test_lines_of_a_written_cube_keep_their_coords(tmp_path):
    cube = make_cube()
    path = write_segy(cube, tmp_path / "cube.sgy")
    inline = read_segy(path, inline=2)
    np.testing.assert_array_equal(inline.values, cube.isel(y=1).values)
    np.testing.assert_array_equal(inline.x.values, cube.x.values)
    crossline = read_segy(path, crossline=4)  # runs along y: its spacing is the cube's dy
    np.testing.assert_array_equal(crossline.values, cube.isel(x=3).values)
    np.testing.assert_array_equal(crossline.x.values, cube.y.values)


def test_foreign_shuffled_cube_with_scaled_cdp_coordinates(tmp_path):
    il, xl, traces = grid([100, 102, 104], [10, 11, 12, 13])
    headers = [{TF.CDP_X: 1_000_000 + 1250 * (x - 10), TF.CDP_Y: 2_000_000 + 2500 * (i - 100) // 2,
                TF.SourceGroupScalar: -100} for i, x in zip(il, xl, strict=True)]
    path = write_foreign_cube(tmp_path / "foreign.sgy", il, xl, traces, headers=headers)
    cube = read_segy(path)
    assert cube.dims == ("x", "y", "z") and cube.shape == (4, 3, 6)
    np.testing.assert_array_equal(cube.x.values, 10_000.0 + 12.5 * np.arange(4))
    np.testing.assert_array_equal(cube.y.values, 20_000.0 + 25.0 * np.arange(3))
    np.testing.assert_array_equal(cube.z.values, 5.0 * np.arange(6))
    with segyio.open(str(path), ignore_geometry=True) as f:  # unsorted: trace by trace
        inlines, crosslines = f.attributes(TF.INLINE_3D)[:], f.attributes(TF.CROSSLINE_3D)[:]
        raw = f.trace.raw[:]
    for t in range(raw.shape[0]):
        np.testing.assert_array_equal(
            cube.values[crosslines[t] - 10, (inlines[t] - 100) // 2], raw[t])


def test_spacing_arguments_place_a_cube_without_coordinates(tmp_path):
    il, xl, traces = grid([1, 2, 3], [5, 6])
    path = write_foreign_cube(tmp_path / "bare.sgy", il, xl, traces)
    cube = read_segy(path, dx=10.0, dy=30.0)
    np.testing.assert_array_equal(cube.x.values, [0.0, 10.0])
    np.testing.assert_array_equal(cube.y.values, [0.0, 30.0, 60.0])
    with segyio.open(str(path), ignore_geometry=True) as f:
        first = f.trace[0]
        il0, xl0 = f.header[0][TF.INLINE_3D], f.header[0][TF.CROSSLINE_3D]
    np.testing.assert_array_equal(cube.values[xl0 - 5, il0 - 1], first)


def test_a_coordinate_that_does_not_vary_leaves_its_spacing_to_the_caller(tmp_path):
    il, xl, traces = grid([1, 2, 3], [5, 6])
    headers = [{TF.CDP_X: 1000 + 20 * int(x)} for x in xl]  # CDP_Y left 0
    path = write_foreign_cube(tmp_path / "xonly.sgy", il, xl, traces, headers=headers)
    with pytest.raises(SegyError, match=r"xonly\.sgy: no y spacing: .*\(CDP_X/CDP_Y, "
                                        r".*\) do not vary along y; pass dy=<metres>"):
        read_segy(path)
    cube = read_segy(path, dy=40.0)
    np.testing.assert_array_equal(cube.x.values, [1100.0, 1120.0])
    np.testing.assert_array_equal(cube.y.values, [0.0, 40.0, 80.0])


def _drop_one(il, xl, traces):
    return il[1:], xl[1:], traces[1:]


def _duplicate(il, xl, traces):
    return np.append(il, il[0]), np.append(xl, xl[0]), np.vstack([traces, traces[:1]])


@pytest.mark.parametrize(
    ("edit", "kwargs", "message"),
    [
        (_drop_one, {"dx": 10.0, "dy": 10.0},
         r"the inline x crossline grid is incomplete: 11 traces for 3 inlines x 4 crosslines; "
         r"inline \d, crossline \d+ \(INLINE_3D, CROSSLINE_3D\) has no trace"),
        (_duplicate, {"dx": 10.0, "dy": 10.0},
         r"inline \d, crossline \d+ \(INLINE_3D, CROSSLINE_3D\) is held by 2 traces"),
        (lambda il, xl, t: (np.where(il == 3, 4, il), xl, t), {"dx": 10.0, "dy": 10.0},
         r"the INLINE_3D \(bytes 189-192\) numbers are not evenly stepped \(steps 1, 2\)"),
        (None, {}, r"no x and y spacing: the textual header has no 'dx=' or 'dy=' and the trace "
                   r"coordinates \(CDP_X/CDP_Y, .*\) do not vary along x and y; pass "
                   r"dx=<metres> and "
                   r"dy=<metres>"),
        (None, {"dx": 10.0}, r"no y spacing: .*pass dy=<metres>"),
    ],
)
def test_bad_grids_are_refused_naming_file_and_field(tmp_path, edit, kwargs, message):
    il, xl, traces = grid([1, 2, 3], [7, 8, 9, 10])
    if edit is not None:
        il, xl, traces = edit(il, xl, traces)
    path = write_foreign_cube(tmp_path / "bad.sgy", il, xl, traces)
    with pytest.raises(SegyError, match=r"bad\.sgy: " + message):
        read_segy(path, **kwargs)


@pytest.mark.parametrize(
    ("coordinates", "message"),
    [
        (lambda i, x: (10 * x + ((x == 9) & (i == 2)), 10 * i),  # one trace 1 m off its place
         r"CDP_X changes along crosslines or CDP_Y along inlines"),
        (lambda i, x: (10 * x * x, 10 * i),  # axis-aligned but irregular
         r"coordinate 'CDP_X' is not regularly spaced"),
        (lambda i, x: (8 * x - 6 * i, 6 * x + 8 * i),  # rotated by 36.87 degrees
         r"rotated \(36.8699 degrees between increasing crossline numbers and CDP_X\)"),
    ],
)
def test_irregular_or_rotated_coordinates_are_refused(tmp_path, coordinates, message):
    il, xl, traces = grid([1, 2, 3], [7, 8, 9, 10])
    x, y = coordinates(il, xl)
    headers = [{TF.CDP_X: int(a), TF.CDP_Y: int(b)} for a, b in zip(x, y, strict=True)]
    path = write_foreign_cube(tmp_path / "warped.sgy", il, xl, traces, headers=headers)
    with pytest.raises(SegyError, match=r"warped\.sgy: trace coordinates do not give a regular "
                                        r"x, y grid \(.*" + message + r".*pass dx=<metres> and "
                                        r"dy=<metres>"):
        read_segy(path)
    assert read_segy(path, dx=10.0, dy=10.0).shape == (4, 3, 6)  # placed by line number


# --- gathers of a 3-D survey -------------------------------------------------------------


def make_gathers_3d(per_shot=False) -> xr.DataArray:
    """Gathers shaped like devito_crfwi.simulate output for a 3-D model."""
    n_shots, nt = 2, 7
    rx, ry = (a.ravel() for a in np.meshgrid([0.0, 12.5, 25.0], [5.0, 37.5], indexing="ij"))
    coords = {
        "shot": np.arange(n_shots),
        "time": 0.004 * np.arange(nt),
        "source_x": ("shot", [10.0, 20.0]),
        "source_y": ("shot", [7.5, 30.0]),
        "source_z": ("shot", [2.5, 2.5]),
    }
    if per_shot:
        dims = ("shot", "receiver")
        coords |= {"receiver_x": (dims, np.stack([rx, rx + 1.0])),
                   "receiver_y": (dims, np.stack([ry, ry - 1.0])),
                   "receiver_z": (dims, np.full((n_shots, rx.size), 4.0))}
    else:
        coords |= {"receiver_x": ("receiver", rx), "receiver_y": ("receiver", ry),
                   "receiver_z": ("receiver", np.full(rx.size, 4.0))}
    data = np.random.default_rng(3).standard_normal((n_shots, nt, rx.size)).astype(np.float32)
    return xr.DataArray(data, dims=("shot", "time", "receiver"), coords=coords,
                        attrs={"dt": 0.004, "units": "a.u.", "f0": 8.0})


@pytest.mark.parametrize("per_shot", [False, True])
def test_3d_gathers_round_trip_and_segyio_headers(tmp_path, per_shot):
    gathers = make_gathers_3d(per_shot)
    path = write_shots(gathers, tmp_path / "shots3d.sgy")
    xr.testing.assert_identical(read_shots(path), gathers)
    with segyio.open(str(path), ignore_geometry=True) as f:
        scalar = f.attributes(TF.SourceGroupScalar)[:]
        assert set(scalar) == {-10}
        n_rec = gathers.sizes["receiver"]
        for axis, source_field, group_field in (("x", TF.SourceX, TF.GroupX),
                                                ("y", TF.SourceY, TF.GroupY)):
            np.testing.assert_array_equal(
                f.attributes(source_field)[:] / 10.0,
                np.repeat(gathers[f"source_{axis}"].values, n_rec))
            np.testing.assert_array_equal(
                f.attributes(group_field)[:] / 10.0,
                np.broadcast_to(gathers[f"receiver_{axis}"].values, (2, n_rec)).ravel())
        np.testing.assert_array_equal(f.attributes(TF.SourceDepth)[:] / 10.0, 2.5)
        np.testing.assert_array_equal(f.attributes(TF.ReceiverGroupElevation)[:] / 10.0, -4.0)
        receiver = gathers.isel(shot=0, receiver=1)
        assert f.header[1][TF.offset] == round(float(np.hypot(receiver.receiver_x - 10.0,
                                                              receiver.receiver_y - 7.5)))
        np.testing.assert_array_equal(f.trace[n_rec + 2], gathers.values[1, :, 2])


def test_3d_gathers_at_constant_y_keep_their_y(tmp_path):
    gathers = make_gathers_3d().assign_coords(source_y=("shot", [0.0, 0.0]),
                                              receiver_y=("receiver", np.zeros(6)))
    xr.testing.assert_identical(read_shots(write_shots(gathers, tmp_path / "flat.sgy")), gathers)


def test_foreign_3d_gathers(tmp_path):
    """Two shots into a 3 x 2 receiver patch, written with plain segyio."""
    gx, gy = (a.ravel() for a in np.meshgrid([0, 250, 500], [1000, 1250], indexing="ij"))
    rows = [(ffid, sx, sy, int(x), int(y)) for ffid, sx, sy in ((7, 125, 1125), (8, 375, 1125))
            for x, y in zip(gx, gy, strict=True)]
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = 5, np.arange(5), len(rows)
    path = tmp_path / "foreign3d.sgy"
    with segyio.create(str(path), spec) as f:
        f.bin.update({BF.Interval: 2000})
        for t, (ffid, sx, sy, x, y) in enumerate(rows):
            f.header[t] = {TF.FieldRecord: ffid, TF.SourceX: sx, TF.SourceY: sy, TF.GroupX: x,
                           TF.GroupY: y, TF.SourceGroupScalar: -10, TF.SourceDepth: 150,
                           TF.ReceiverGroupElevation: -50, TF.ElevationScalar: -100,
                           TF.offset: int(np.hypot(x - sx, y - sy))}
            f.trace[t] = np.arange(5, dtype=np.float32) + 10 * t
    shots = read_shots(path)
    with segyio.open(str(path), ignore_geometry=True) as f:
        raw = f.trace.raw[:]
        group_y = f.attributes(TF.GroupY)[:6]
    assert shots.shape == (2, 5, 6)
    np.testing.assert_array_equal(shots.values.transpose(0, 2, 1).reshape(12, 5), raw)
    np.testing.assert_array_equal(shots.source_x.values, [12.5, 37.5])
    np.testing.assert_array_equal(shots.source_y.values, [112.5, 112.5])
    np.testing.assert_array_equal(shots.receiver_y.values, group_y / 10.0)
    assert shots.receiver_x.dims == ("receiver",)
    np.testing.assert_array_equal(shots.source_z.values, [1.5, 1.5])
    np.testing.assert_array_equal(shots.receiver_z.values, np.full(6, 0.5))
    np.testing.assert_array_equal(shots.time.values, 0.002 * np.arange(5))
