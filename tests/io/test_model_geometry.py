"""The model grid from header values alone (no file): trace order, lateral and depth coords."""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.io.model_geometry import (
    GeometryError,
    depth_coords,
    lateral_coords,
    select_traces,
)
from devito_crfwi.io.survey_frame import fit_frame

_GIVEN_NONE = {"x": None, "y": None}
_TEXT_NAMES = {"x": "x", "y": "y"}


def _headers(x, y=None, scalar: int = 1, source_x=None) -> dict[str, np.ndarray]:
    """Trace headers with CDP, source and group coordinates ``x``, ``y`` (header integers)."""
    x = np.asarray(x, dtype=np.int64)
    y = np.zeros_like(x) if y is None else np.asarray(y, dtype=np.int64)
    sx = x if source_x is None else np.asarray(source_x, dtype=np.int64)
    return {"CDP_X": x, "CDP_Y": y, "SourceX": sx, "SourceY": y, "GroupX": sx, "GroupY": y,
            "SourceGroupScalar": np.full(x.shape, scalar)}


def _cube(nx: int, ny: int):
    """INLINE_3D / CROSSLINE_3D numbers of an (nx, ny) grid, crossline-sorted (x outer)."""
    crosslines, inlines = np.meshgrid(np.arange(nx) + 11, np.arange(ny) + 1, indexing="ij")
    return inlines.ravel(), crosslines.ravel()


# -- which traces, in what order ----------------------------------------------------------
def test_a_line_keeps_the_file_order():
    order, shape = select_traces(np.ones(5, int), np.arange(5) + 1)
    np.testing.assert_array_equal(order, np.arange(5))
    assert shape == (5,)


def test_a_cube_in_any_trace_order_comes_out_in_x_y_order():
    inlines, crosslines = _cube(4, 3)
    shuffle = np.random.default_rng(0).permutation(inlines.size)
    order, shape = select_traces(inlines[shuffle], crosslines[shuffle])
    assert shape == (4, 3)
    # Trace order[i] of the file is the model's (x, y) cell i in C order.
    np.testing.assert_array_equal(crosslines[shuffle][order], crosslines)
    np.testing.assert_array_equal(inlines[shuffle][order], inlines)


def test_one_line_of_a_cube_is_ordered_across_it():
    inlines, crosslines = _cube(4, 3)
    reverse = np.arange(inlines.size)[::-1]
    order, shape = select_traces(inlines[reverse], crosslines[reverse], inline=2)
    assert shape == (4,)
    np.testing.assert_array_equal(crosslines[reverse][order], [11, 12, 13, 14])
    order, shape = select_traces(inlines, crosslines, crossline=13)
    assert shape == (3,)
    np.testing.assert_array_equal(inlines[order], [1, 2, 3])


@pytest.mark.parametrize("drop, match", [
    (lambda il, xl: il != 2, r"INLINE_3D \(bytes 189-192\) numbers are not evenly stepped "
                             r"\(steps 1, 2\): inlines 2 are missing from the grid of inlines "
                             r"1\.\.4 step 1"),
    (lambda il, xl: (il != 2) | (xl != 12), r"no trace at inline 2, crossline 12 "),
])
def test_an_incomplete_cube_names_the_field(drop, match):
    inlines, crosslines = _cube(4, 4)
    keep = drop(inlines, crosslines)
    with pytest.raises(GeometryError, match=match):
        select_traces(inlines[keep], crosslines[keep])


def test_a_duplicated_cell_and_a_missing_line_are_refused():
    inlines, crosslines = _cube(4, 3)
    with pytest.raises(GeometryError, match="each held by several traces \\(the first by 2: "):
        select_traces(np.append(inlines, 1), np.append(crosslines, 11))
    with pytest.raises(GeometryError, match=r"inline 9 is not in the file \(inlines 1..3"):
        select_traces(inlines, crosslines, inline=9)


# -- lateral coords -------------------------------------------------------------------------
def test_a_regular_line_in_centimetres():
    # SourceGroupScalar -100: the header integers are centimetres.
    headers = _headers([123450, 124700, 125950, 127200], scalar=-100)
    coords = lateral_coords({}, headers, (4,), _GIVEN_NONE, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [1234.5, 1247.0, 1259.5, 1272.0])


def test_a_positive_scalar_multiplies():
    headers = _headers([1, 2, 3], scalar=10)
    np.testing.assert_array_equal(
        lateral_coords({}, headers, (3,), _GIVEN_NONE, _TEXT_NAMES).coords["x"], [10.0, 20.0, 30.0])


def test_a_constant_cdp_falls_back_to_the_source_coordinates():
    headers = _headers([0, 0, 0], source_x=[100, 150, 200])
    np.testing.assert_array_equal(lateral_coords({}, headers, (3,), _GIVEN_NONE,
                                                 _TEXT_NAMES).coords["x"], [100.0, 150.0, 200.0])


def test_a_slanted_line_is_measured_along_itself():
    headers = _headers([0, 30, 60], y=[0, 40, 80])
    np.testing.assert_array_equal(
        lateral_coords({}, headers, (3,), _GIVEN_NONE, _TEXT_NAMES).coords["x"], [0.0, 50.0, 100.0])


def test_a_cube_from_its_crossline_sorted_traces():
    inlines, crosslines = _cube(4, 3)
    x, y = 1000 + 25 * (crosslines - 11), 500 + 50 * (inlines - 1)  # m, scalar 1
    order, shape = select_traces(inlines, crosslines)
    headers = {k: v[order] for k, v in _headers(x, y).items()}
    coords = lateral_coords({}, headers, shape, _GIVEN_NONE, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [1000.0, 1025.0, 1050.0, 1075.0])
    np.testing.assert_array_equal(coords["y"], [500.0, 550.0, 600.0])


def test_a_rotated_cube_is_measured_in_its_own_frame():
    inlines, crosslines = _cube(3, 3)
    order, shape = select_traces(inlines, crosslines)
    i, j = crosslines[order] - 11, inlines[order] - 1
    x, y = 1000 + 100 * i - 10 * j, 10 * i + 100 * j  # atan(0.1) = 5.71 degrees off the axes
    grid = lateral_coords({}, _headers(x, y), shape, _GIVEN_NONE, _TEXT_NAMES)
    step = np.hypot(100.0, 10.0)
    np.testing.assert_allclose(grid.coords["x"], step * np.arange(3), rtol=1e-12)
    np.testing.assert_allclose(grid.coords["y"], step * np.arange(3), rtol=1e-12)
    assert grid.frame.yflip == 1
    assert grid.frame.rotation == pytest.approx(np.degrees(np.arctan2(10.0, 100.0)), abs=1e-12)
    np.testing.assert_array_equal(grid.world[0], x.reshape(shape).astype(float))


def test_a_skewed_cube_is_refused_naming_the_trace():
    inlines, crosslines = _cube(3, 3)
    order, shape = select_traces(inlines, crosslines)
    i, j = crosslines[order] - 11, inlines[order] - 1
    x, y = 100 * i + 50 * j, 100 * j  # inline and crossline directions 63 degrees apart
    headers = {**_headers(x, y), "INLINE_3D": inlines[order], "CROSSLINE_3D": crosslines[order]}
    with pytest.raises(GeometryError, match=r"CDP_X/CDP_Y do not lie on a rectangular grid: the "
                                            r"trace at inline \d, crossline 1\d is .* directions "
                                            r"63\.4349 degrees apart.*pass dx=<metres> and "
                                            r"dy=<metres>"):
        lateral_coords({}, headers, shape, _GIVEN_NONE, _TEXT_NAMES)


def test_irregular_coordinates_name_the_field():
    headers = _headers([0, 10, 25, 30])
    with pytest.raises(GeometryError, match=r"regular x axis \(coordinate 'CDP_X' is not "
                                            r"regularly spaced.*; pass dx=<metres>"):
        lateral_coords({}, headers, (4,), _GIVEN_NONE, _TEXT_NAMES)
    # A given spacing needs nothing of them: the origin is then 0.
    coords = lateral_coords({}, headers, (4,), {"x": 5.0, "y": None}, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [0.0, 5.0, 10.0, 15.0])


def test_constant_coordinates_and_no_text_ask_for_the_spacing():
    with pytest.raises(GeometryError, match=r"no x spacing: .*\(CDP_X, SourceX, GroupX\) do not "
                                            r"vary; pass dx=<metres> to read_segy"):
        lateral_coords({}, _headers([7, 7, 7]), (3,), _GIVEN_NONE, _TEXT_NAMES)


def test_precedence_given_then_text_then_coordinates():
    headers = _headers([100, 110, 120])
    fields = {"dx": "2.5", "x0": "-5"}
    coords = lateral_coords(fields, headers, (3,), _GIVEN_NONE, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [-5.0, -2.5, 0.0])
    coords = lateral_coords(fields, headers, (3,), {"x": 1.0, "y": None}, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [-5.0, -4.0, -3.0])
    coords = lateral_coords({"dx": "2.5"}, headers, (3,), _GIVEN_NONE, _TEXT_NAMES).coords
    np.testing.assert_array_equal(coords["x"], [100.0, 102.5, 105.0])  # origin: the traces
    # A crossline of a cube stated with dy=/y0=: read under the y names.
    coords = lateral_coords({"dy": "4", "y0": "8"}, _headers([0, 0, 0]), (3,), _GIVEN_NONE,
                            {"x": "y", "y": "y"}).coords
    np.testing.assert_array_equal(coords["x"], [8.0, 12.0, 16.0])
    with pytest.raises(GeometryError, match="the textual header says dx=0; pass dx="):
        lateral_coords({"dx": "0"}, headers, (3,), _GIVEN_NONE, _TEXT_NAMES)


# -- depth coords ---------------------------------------------------------------------------
def test_depth_from_the_text_or_the_interval_in_millimetres():
    np.testing.assert_array_equal(depth_coords({"dz": "5", "z0": "10"}, None, 2500, 3),
                                  [10.0, 15.0, 20.0])
    np.testing.assert_array_equal(depth_coords({}, None, 2500, 3), [0.0, 2.5, 5.0])
    np.testing.assert_array_equal(depth_coords({"dz": "5"}, 1.0, 2500, 3), [0.0, 1.0, 2.0])
    with pytest.raises(GeometryError, match="sample interval is 0; pass dz="):
        depth_coords({}, None, 0, 3)
    with pytest.raises(GeometryError, match="dz = 0.05 m .* implausible; pass dz="):
        depth_coords({}, None, 50, 3)


def _turned_grid(nx, ny, rotation, yflip, dx, dy, resolution, origin=(523456.0, 6701234.0)):
    """World coordinates (m) of an (nx, ny) grid turned ``rotation`` degrees, rounded to
    ``resolution``, from the frame's definition."""
    r = np.radians(rotation)
    u = np.array([np.cos(r), np.sin(r)])
    w = yflip * np.array([-u[1], u[0]])
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    world = np.asarray(origin) + (i * dx)[..., None] * u + (j * dy)[..., None] * w
    world = np.rint(world / resolution) * resolution
    return world[..., 0], world[..., 1]


def _fit(east, north, resolution):
    nx, ny = east.shape
    return fit_frame(east, north, resolution, names=("CDP_X", "CDP_Y"),
                     crosslines=np.arange(nx) + 1, inlines=np.arange(ny) + 1)


@pytest.mark.parametrize("seed", range(3))
def test_centimetre_coordinates_give_the_exact_rotation_and_bins(seed):
    """Coordinates rounded to 1 cm at UTM magnitudes: rotations with one decimal and
    usual bin sizes come back exactly, on strips of 2 lines as on large grids."""
    rng = np.random.default_rng(seed)
    for _ in range(30):
        nx, ny = (int(n) for n in rng.integers(2, 40, 2))
        rotation, yflip = round(float(rng.uniform(0, 360)), 1), int(rng.choice([1, -1]))
        dx, dy = (float(d) for d in rng.choice([6.25, 12.5, 20.0, 25.0], 2))
        frame = _fit(*_turned_grid(nx, ny, rotation, yflip, dx, dy, 0.01), 0.01)
        assert (frame.rotation, frame.yflip, frame.spacing) == (rotation % 360.0, yflip,
                                                                (dx, dy))


def test_exact_coordinates_keep_exact_estimates_and_coarse_ones_are_accepted():
    # segyio's obtuse-small layout: 2 sqrt(2) m bins at 135 degrees, stored exactly in units
    # of 2 m (scalar 2); the coarse resolution must not round the spacing to 3 or 2.8 m.
    a, b = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")  # crossline, inline index
    frame = _fit(2.0 * (100 - b + a), 2.0 * (100 - b - a), 2.0)
    np.testing.assert_allclose(frame.spacing, (2 * np.sqrt(2), 2 * np.sqrt(2)), rtol=1e-12)
    assert (frame.rotation, frame.yflip) == (315.0, -1)
    # Whole-metre coordinates of a two-crossline strip of 12.5 m bins: up to 0.7 m off
    frame = _fit(*_turned_grid(2, 26, 126.7, 1, 12.5, 12.5, 1.0), 1.0)
    assert frame.rotation == pytest.approx(126.7, abs=0.05)
