"""3-D through SEG-Y: velocity cubes (x, y, z) and gathers of 3-D surveys.

Files are checked against segyio's own reading (``segyio.tools.cube``, ``f.iline``,
``f.attributes``), and foreign files are written with plain segyio, not our writers.
"""

from __future__ import annotations

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi import Survey
from devito_crfwi.io import (
    SegyError,
    model_to_world,
    read_segy,
    read_shots,
    world_to_model,
    write_segy,
    write_shots,
)
from devito_crfwi.physics import ModelGrid

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
         r"no trace at inline \d, crossline \d+ \(INLINE_3D, CROSSLINE_3D; 1 missing\)"),
        (_duplicate, {"dx": 10.0, "dy": 10.0},
         r"inline \d, crossline \d+ \(INLINE_3D, CROSSLINE_3D\): each held by several traces "
         r"\(the first by 2: traces \d+, 13; 1 pair\(s\) duplicated\)"),
        (lambda il, xl, t: (np.where(il == 3, 4, il), xl, t), {"dx": 10.0, "dy": 10.0},
         r"the INLINE_3D \(bytes 189-192\) numbers are not evenly stepped \(steps 1, 2\): "
         r"inlines 3 are missing from the grid of inlines 1\.\.4 step 1"),
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
        (lambda i, x: (10 * x + 3 * ((x == 9) & (i == 2)), 10 * i),  # one trace 3 m off its node
         r"the trace at inline 2, crossline 9 is 2\.\d+ m off the best fit \(rotation 0 degrees, "
         r"dx [\d.]+ m, dy 10 m, the crossline and inline directions 90 degrees apart\), more than "
         r"1\.5 m"),
        (lambda i, x: (10 * x * x, 10 * i),  # axis-aligned but irregular
         r"the trace at inline \d, crossline \d+ is \d+ m off the best fit"),
        (lambda i, x: (10 * x + 5 * i, 10 * i),  # skewed: the lines are not perpendicular
         r"the crossline and inline directions 63\.4349 degrees apart"),
    ],
)
def test_irregular_or_skewed_coordinates_are_refused(tmp_path, coordinates, message):
    il, xl, traces = grid([1, 2, 3], [7, 8, 9, 10])
    x, y = coordinates(il, xl)
    headers = [{TF.CDP_X: int(a), TF.CDP_Y: int(b)} for a, b in zip(x, y, strict=True)]
    path = write_foreign_cube(tmp_path / "warped.sgy", il, xl, traces, headers=headers)
    with pytest.raises(SegyError, match=r"warped\.sgy: CDP_X/CDP_Y do not lie on a rectangular "
                                        r"grid: .*" + message + r".*pass dx=<metres> and "
                                        r"dy=<metres>"):
        read_segy(path)
    assert read_segy(path, dx=10.0, dy=10.0).shape == (4, 3, 6)  # placed by line number


# --- rotated surveys ---------------------------------------------------------------------

ORIGIN = (1000.0, 2000.0)  # m; small enough for segyio's float32 rotation


def rotated_headers(il, xl, rotation, yflip=1, *, scalar=-100, pair=("CDP_X", "CDP_Y"),
                    dx=12.5, dy=25.0, origin=ORIGIN):
    """Header coordinates of a grid rotated ``rotation`` degrees counterclockwise from the
    east axis: crossline k of inline l at origin + k dx u + l dy w, stored with ``scalar``.
    Computed here from the definition, independently of the reader."""
    r = np.radians(rotation)
    u = np.array([np.cos(r), np.sin(r)])
    w = yflip * np.array([-u[1], u[0]])
    k, m = xl - xl.min(), (il - il.min()) // (np.unique(il)[1] - np.unique(il)[0])
    world = np.asarray(origin) + (k * dx)[:, None] * u + (m * dy)[:, None] * w
    stored = np.rint(world * (-scalar if scalar < 0 else 1.0 / scalar)).astype(np.int64)
    return [{getattr(TF, pair[0]): int(e), getattr(TF, pair[1]): int(n),
             TF.SourceGroupScalar: scalar} for e, n in stored]


def segyio_view(path, pair=("CDP_X", "CDP_Y")):
    """Traces, line numbers and coordinates (m) as segyio reads them, trace by trace."""
    with segyio.open(str(path), ignore_geometry=True) as f:
        scalar = f.attributes(TF.SourceGroupScalar)[:].astype(float)
        divide, multiply = np.where(scalar < 0, -scalar, 1.0), np.where(scalar > 0, scalar, 1.0)
        return (f.trace.raw[:], f.attributes(TF.INLINE_3D)[:], f.attributes(TF.CROSSLINE_3D)[:],
                *(f.attributes(getattr(TF, name))[:] * multiply / divide for name in pair))


@pytest.mark.parametrize("pair", [("CDP_X", "CDP_Y"), ("SourceX", "SourceY")])
@pytest.mark.parametrize(("rotation", "yflip"), [(0, 1), (30, 1), (90, 1), (180, 1), (30, -1),
                                                 (0, -1)])
def test_rotated_cube_is_read_on_its_own_grid(tmp_path, rotation, yflip, pair):
    il, xl, traces = grid([100, 102, 104], [10, 11, 12, 13], seed=rotation + yflip + 1)  # shuffled
    headers = rotated_headers(il, xl, rotation, yflip, pair=pair)
    path = write_foreign_cube(tmp_path / "rotated.sgy", il, xl, traces, headers=headers)
    cube = read_segy(path)
    assert cube.dims == ("x", "y", "z") and cube.shape == (4, 3, 6)
    raw, inlines, crosslines, east, north = segyio_view(path, pair)
    x_index, y_index = crosslines - 10, (inlines - 100) // 2
    np.testing.assert_array_equal(cube.values[x_index, y_index], raw)
    if (rotation, yflip) == (0, 1):  # axis-aligned: x and y are the world coordinates
        assert "cdp_x" not in cube.coords and "rotation" not in cube.attrs
        np.testing.assert_array_equal(cube.x.values[x_index], east)
        np.testing.assert_array_equal(cube.y.values[y_index], north)
        return
    np.testing.assert_array_equal(cube.x.values, 12.5 * np.arange(4))  # spacing along the lines
    np.testing.assert_array_equal(cube.y.values, 25.0 * np.arange(3))
    assert (cube.attrs["rotation"], cube.attrs["yflip"]) == (float(rotation), yflip)
    np.testing.assert_array_equal(cube.iline.values, [100, 102, 104])
    np.testing.assert_array_equal(cube.xline.values, [10, 11, 12, 13])
    assert cube.cdp_x.dims == ("x", "y")
    np.testing.assert_array_equal(cube.cdp_x.values[x_index, y_index], east)
    np.testing.assert_array_equal(cube.cdp_y.values[x_index, y_index], north)
    # The documented frame: cdp = cdp_0 + x (cos r, sin r) + y yflip (-sin r, cos r)
    r = np.radians(rotation)
    x, y = np.meshgrid(cube.x.values, cube.y.values, indexing="ij")
    np.testing.assert_allclose(cube.cdp_x.values, ORIGIN[0] + x * np.cos(r) - yflip * y * np.sin(r),
                               atol=0.005)
    np.testing.assert_allclose(cube.cdp_y.values, ORIGIN[1] + x * np.sin(r) + yflip * y * np.cos(r),
                               atol=0.005)


@pytest.mark.parametrize(("rotation", "yflip"), [(0, 1), (30, 1), (90, -1), (180, 1), (250, -1)])
def test_rotated_cube_round_trip_through_segyio(tmp_path, rotation, yflip):
    il, xl, traces = grid([100, 102, 104], [10, 11, 12, 13], seed=7)
    headers = rotated_headers(il, xl, rotation, yflip, scalar=-10)
    cube = read_segy(write_foreign_cube(tmp_path / "foreign.sgy", il, xl, traces,
                                        headers=headers))
    path = write_segy(cube, tmp_path / "back.sgy")
    back = read_segy(path)
    xr.testing.assert_identical(back.drop_attrs(), cube.drop_attrs())
    assert {k: back.attrs.get(k) for k in ("rotation", "yflip")} == \
        {k: cube.attrs.get(k) for k in ("rotation", "yflip")}
    with segyio.open(str(path), iline=189, xline=193) as f:  # strict geometry: a sorted cube
        np.testing.assert_array_equal(f.ilines, [100, 102, 104])
        np.testing.assert_array_equal(f.xlines, [10, 11, 12, 13])
        np.testing.assert_array_equal(segyio.tools.cube(f), cube.values.transpose(1, 0, 2))
        # segyio: clockwise from +CDP_Y to the first inline's direction, in radians, from its
        # end traces only (37.5 m apart, coordinates in 0.1 m: within 0.2 degrees)
        azimuth = np.degrees(segyio.tools.rotation(f, line="iline")[0])
        assert azimuth == pytest.approx((90.0 - rotation) % 360.0, abs=0.2)
    _, inlines, crosslines, east, north = segyio_view(path)
    x_index, y_index = crosslines - 10, (inlines - 100) // 2
    world_x = cube.cdp_x.values if "cdp_x" in cube.coords else np.broadcast_to(
        cube.x.values[:, None], cube.shape[:2])
    np.testing.assert_array_equal(world_x[x_index, y_index], east)
    world_y = cube.cdp_y.values if "cdp_y" in cube.coords else np.broadcast_to(
        cube.y.values[None, :], cube.shape[:2])
    np.testing.assert_array_equal(world_y[x_index, y_index], north)


def test_one_line_of_a_rotated_cube_is_measured_along_itself(tmp_path):
    il, xl, traces = grid([100, 102, 104, 106], [10, 11, 12, 13, 14, 15])
    headers = rotated_headers(il, xl, 30.0)  # centimetres: the slanted steps are uneven
    path = write_foreign_cube(tmp_path / "lines.sgy", il, xl, traces, headers=headers)
    cube = read_segy(path)
    inline = read_segy(path, inline=102)
    np.testing.assert_array_equal(inline.values, cube.sel(y=25.0).values)
    np.testing.assert_array_equal(inline.x.values, 12.5 * np.arange(6))
    crossline = read_segy(path, crossline=13)
    np.testing.assert_array_equal(crossline.values, cube.sel(x=37.5).values)
    np.testing.assert_allclose(crossline.x.values, 25.0 * np.arange(4), atol=0.01)


def test_segyio_normal_layout_and_positive_scalar(tmp_path):
    """segyio's normal-small layout (make-rotated-copies.py): CDP_X = inline index, CDP_Y =
    crossline index, SourceGroupScalar +10 (multiply): inlines run north, numbered east."""
    il, xl, traces = grid([1, 2, 3], [20, 21, 22, 23])
    headers = [{TF.CDP_X: int(i - 1), TF.CDP_Y: int(x - 20), TF.SourceGroupScalar: 10}
               for i, x in zip(il, xl, strict=True)]
    path = write_foreign_cube(tmp_path / "normal.sgy", il, xl, traces, headers=headers)
    cube = read_segy(path)
    assert (cube.attrs["rotation"], cube.attrs["yflip"]) == (90.0, -1)
    np.testing.assert_array_equal(cube.x.values, [0.0, 10.0, 20.0, 30.0])
    np.testing.assert_array_equal(cube.y.values, [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(cube.cdp_y.values, np.broadcast_to(10.0 * np.arange(4)[:, None],
                                                                     (4, 3)))
    np.testing.assert_array_equal(cube.cdp_x.values, np.broadcast_to(10.0 * np.arange(3), (4, 3)))
    back = write_segy(cube, tmp_path / "back.sgy")
    with segyio.open(str(back)) as f:
        assert segyio.tools.rotation(f, line="iline")[0] == 0.0


def test_coarse_coordinates_of_a_rotated_grid_are_accepted(tmp_path):
    """Whole-metre coordinates (scalar 1) of 12.5 m bins at 30 degrees: up to 0.7 m off."""
    il, xl, traces = grid(np.arange(1, 9), np.arange(1, 11))
    headers = rotated_headers(il, xl, 30.0, scalar=1)
    cube = read_segy(write_foreign_cube(tmp_path / "coarse.sgy", il, xl, traces, headers=headers))
    assert cube.attrs["rotation"] == pytest.approx(30.0, abs=0.05)
    assert cube.x.values[1] == pytest.approx(12.5, abs=0.02)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_drop_one, r"no trace at inline 10\d, crossline 1\d \(INLINE_3D, CROSSLINE_3D; "
                    r"1 missing\)"),
        (_duplicate, r"inline 10\d, crossline 1\d \(INLINE_3D, CROSSLINE_3D\): each held by "
                     r"several traces"),
    ],
)
def test_holes_and_duplicates_in_a_rotated_cube_name_the_lines(tmp_path, edit, message):
    il, xl, traces = edit(*grid([100, 102, 104], [10, 11, 12, 13]))
    headers = rotated_headers(il, xl, 30.0)
    path = write_foreign_cube(tmp_path / "holes.sgy", il, xl, traces, headers=headers)
    with pytest.raises(SegyError, match=r"holes\.sgy: .*" + message):
        read_segy(path)


def _rotated_cube(tmp_path):
    il, xl, traces = grid([1, 2, 3], [1, 2, 3, 4])
    headers = rotated_headers(il, xl, 30.0)
    return read_segy(write_foreign_cube(tmp_path / "r.sgy", il, xl, traces, headers=headers))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c: c.drop_vars("cdp_y"), r"has a coordinate 'cdp_x' but no 'cdp_y'"),
        (lambda c: c.assign_coords(x=2 * c.x), r"cdp_x/cdp_y step 12\.5 m along 'x' but "
                                               r"coordinate 'x' steps 25 m"),
        (lambda c: c.assign_coords(iline=("y", [3, 2, 1])), r"'iline' must increase in equal "
                                                              r"steps along 'y'"),
        (lambda c: c.assign_coords(cdp_x=c.cdp_x.where(c.x > 0, 0.0)),
         r"cdp_x/cdp_y do not lie on a rectangular grid: the trace at inline \d, crossline \d "),
    ],
)
def test_write_segy_refuses_survey_coords_that_disagree(tmp_path, change, error):
    cube = change(_rotated_cube(tmp_path))
    with pytest.raises(ValueError, match=r"write_segy: da.*" + error):
        write_segy(cube, tmp_path / "out.sgy")


def test_a_subset_of_a_rotated_cube_keeps_its_place(tmp_path):
    cube = _rotated_cube(tmp_path).isel(x=slice(1, None), y=slice(1, None))
    back = read_segy(write_segy(cube, tmp_path / "part.sgy"))
    xr.testing.assert_identical(back.drop_attrs(), cube.drop_attrs())
    assert back.attrs["rotation"] == 30.0


def test_survey_positions_are_in_the_cube_frame(tmp_path):
    """A rotated cube is a regular grid in its own frame: surveys are laid out there, and
    positions in world coordinates fall outside it and are refused."""
    cube = _rotated_cube(tmp_path)  # 30 degrees, first trace at ORIGIN
    survey = Survey.surface(cube, 1, (2, 2), f0=10.0, t_max=0.1)
    sx, sy, sz = survey.source_positions[0]
    east, north = model_to_world(cube, sx, sy)
    r = np.radians(30.0)
    assert east == pytest.approx(ORIGIN[0] + sx * np.cos(r) - sy * np.sin(r), abs=0.01)
    assert north == pytest.approx(ORIGIN[1] + sx * np.sin(r) + sy * np.cos(r), abs=0.01)
    np.testing.assert_allclose(world_to_model(cube, east, north), (sx, sy), atol=1e-9)
    in_world = Survey([[east, north, sz]], survey.receiver_positions, f0=10.0, t_max=0.1)
    with pytest.raises(ValueError, match=r"source of shot 0 at \(x=1\d{3}.* lies outside the "
                                         r"model \(x in \[0, 37\.5\] m, y in \[0, 50\] m"):
        in_world.check_inside(ModelGrid.from_dataarray(cube, nbl=0).extent)
    aligned = make_cube()  # no cdp_x/cdp_y: the frame is the world
    assert model_to_world(aligned, 3.0, 4.0) == (3.0, 4.0)
    with pytest.raises(ValueError, match=r"world_to_model: model must be an xarray\.DataArray "
                                         r"cube with dims \('x', 'y', 'z'\).*got \('x', 'z'\)"):
        world_to_model(aligned.isel(y=0, drop=True), 3.0, 4.0)


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
