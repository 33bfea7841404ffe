"""A cube's survey coords (line numbers, world coordinates) <-> SEG-Y trace header values.

:func:`read_segy` gives a cube whose line numbers are not 1, 2, ... coords "iline" (y,) and
"xline" (x,), and a rotated or mirrored cube also "cdp_x" and "cdp_y" (x, y) and attrs
"rotation" and "yflip" (:func:`survey_coords`); :func:`write_segy` writes them back as
INLINE_3D, CROSSLINE_3D and the trace coordinates (:func:`survey_headers`), after checking
that read_segy will read the same grid (:func:`check_world_grid`). :func:`model_to_world`
and :func:`world_to_model` map points between a cube's frame and world coordinates (survey
positions are in the frame). The names follow segysak
(``iline``, ``xline``, ``cdp_x``, ``cdp_y``); the frame's convention is in
:mod:`.survey_frame`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from .errors import GeometryError
from .headers import INT32_MAX, apply_scalar, scalar_resolution
from .model_geometry import LateralGrid
from .schema import CheckedModel
from .survey_frame import SurveyFrame, fit_frame, grid_tolerance

__all__ = [
    "check_world_grid",
    "model_to_world",
    "survey_coords",
    "survey_headers",
    "world_to_model",
]


def survey_coords(grid: LateralGrid, headers: Mapping[str, np.ndarray],
                  shape: tuple[int, int]) -> tuple[dict, dict]:
    """A cube's survey coords and frame attrs for ``xr.DataArray`` (see ``read_segy``),
    both maybe empty; ``headers`` (INLINE_3D, CROSSLINE_3D) in model order."""
    crosslines = headers["CROSSLINE_3D"].reshape(shape)[:, 0].astype(np.int64)
    inlines = headers["INLINE_3D"].reshape(shape)[0, :].astype(np.int64)
    rotated = grid.frame is not None and not grid.frame.aligned
    coords, attrs = {}, {}
    if rotated or not (np.array_equal(crosslines, np.arange(shape[0]) + 1)
                       and np.array_equal(inlines, np.arange(shape[1]) + 1)):
        coords |= {"iline": ("y", inlines), "xline": ("x", crosslines)}
    if rotated:
        east, north = grid.world
        coords |= {"cdp_x": (("x", "y"), east), "cdp_y": (("x", "y"), north)}
        attrs = {"rotation": grid.frame.rotation, "yflip": grid.frame.yflip}
    return coords, attrs


def _line_numbers(da: xr.DataArray, name: str, dim: str, n: int) -> np.ndarray:
    """The ``iline``/``xline`` coord along ``dim`` as int64 numbers, else 1..n."""
    if name not in da.coords:
        return np.arange(n, dtype=np.int64) + 1
    coord = da[name]
    values = np.asarray(coord.values)
    what = "inline" if name == "iline" else "crossline"
    if (coord.dims != (dim,) or values.dtype.kind not in "iuf" or not np.all(np.isfinite(values))
            or np.any(values != np.rint(values)) or np.any(np.abs(values) > INT32_MAX)):
        raise ValueError(f"write_segy: da's coordinate {name!r} must hold the {what} numbers "
                         f"along {dim!r} as int32 integers, got dims {coord.dims} and values "
                         f"{values.ravel()[:4]}")
    numbers = values.astype(np.int64)
    steps = np.diff(numbers)
    if steps.size and (steps[0] <= 0 or np.any(steps != steps[0])):
        raise ValueError(f"write_segy: da's coordinate {name!r} must increase in equal steps "
                         f"along {dim!r} (read_segy orders the {what}s by number), got "
                         f"{numbers[:6]}")
    return numbers


def survey_headers(da: xr.DataArray, model: CheckedModel
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A cube's world coordinates (east, north) in m, each (nx, 1), (1, ny) or (nx, ny), and
    its inline (ny,) and crossline (nx,) numbers, from its coords (see
    :func:`~devito_crfwi.io.write_segy`); ``model`` is ``check_model(da)``."""
    nx, ny = model.shape[:2]
    inlines = _line_numbers(da, "iline", "y", ny)
    crosslines = _line_numbers(da, "xline", "x", nx)
    given = [name for name in ("cdp_x", "cdp_y") if name in da.coords]
    if not given:
        return model.x[:, None], model.y[None, :], inlines, crosslines
    if len(given) == 1:
        raise ValueError(f"write_segy: da has a coordinate {given[0]!r} but no "
                         f"{'cdp_y' if given[0] == 'cdp_x' else 'cdp_x'!r}: a rotated cube needs "
                         "both (world coordinates in m, dims ('x', 'y'))")
    world = []
    for name in ("cdp_x", "cdp_y"):
        coord = da[name]
        if set(coord.dims) != {"x", "y"}:
            raise ValueError(f"write_segy: da's coordinate {name!r} must have dims ('x', 'y'), "
                             f"got {coord.dims}")
        values = np.asarray(coord.transpose("x", "y").values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"write_segy: da's coordinate {name!r} holds NaN or Inf")
        world.append(values)
    return world[0], world[1], inlines, crosslines


def check_world_grid(model: CheckedModel, east_int: np.ndarray, north_int: np.ndarray,
                     scalar: int, crosslines: np.ndarray, inlines: np.ndarray) -> SurveyFrame:
    """The frame of the cdp_x/cdp_y to be written (header integers (nx, ny) with ``scalar``),
    as read_segy will find it; raises ``ValueError`` for a grid it would refuse, or one whose
    spacing is not the model's."""
    try:
        frame = fit_frame(apply_scalar(east_int, scalar), apply_scalar(north_int, scalar),
                          scalar_resolution(scalar), names=("cdp_x", "cdp_y"),
                          crosslines=crosslines, inlines=inlines)
    except GeometryError as err:
        raise ValueError(f"write_segy: da's coordinates {err.problem}") from None
    spacing, n = (model.spacing[0], model.spacing[1]), model.shape[:2]
    tolerance = 2 * grid_tolerance(scalar_resolution(scalar), spacing)
    for dim, found, step, count in zip("xy", frame.spacing if frame else (None, None),
                                       spacing, n, strict=True):
        if found is None or abs(found - step) * (count - 1) > tolerance:
            seen = "do not change" if found is None else f"step {found:.6g} m"
            raise ValueError(
                f"write_segy: da's coordinates cdp_x/cdp_y {seen} along {dim!r} but coordinate "
                f"{dim!r} steps {step:g} m: they describe different grids; drop cdp_x and cdp_y "
                "(da.drop_vars(['cdp_x', 'cdp_y'])) to write x and y as world coordinates"
            )
    return frame


def _affine(model: xr.DataArray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(matrix (2, 2), offset (2,)) with world = matrix @ (x, y) + offset, in m, fitted by least
    squares to a cube's cdp_x/cdp_y (segysak's affine transform, on metres not line numbers);
    the identity for a cube without them."""
    if not isinstance(model, xr.DataArray) or tuple(model.dims) != ("x", "y", "z"):
        got = model.dims if isinstance(model, xr.DataArray) else type(model).__name__
        raise ValueError(f"{where}: model must be an xarray.DataArray cube with dims "
                         f"('x', 'y', 'z') (as read_segy gives it), got {got}")
    if "cdp_x" not in model.coords or "cdp_y" not in model.coords:
        return np.eye(2), np.zeros(2)
    x, y = np.meshgrid(model["x"].values, model["y"].values, indexing="ij")
    design = np.column_stack([x.ravel(), y.ravel(), np.ones(x.size)])
    world = np.column_stack([model[name].transpose("x", "y").values.ravel()
                             for name in ("cdp_x", "cdp_y")])
    # Centre the world coordinates: millions of metres would cost the solve its precision.
    centre = world.mean(axis=0)
    solution = np.linalg.lstsq(design, world - centre, rcond=None)[0]  # (3, 2)
    return solution[:2].T, solution[2] + centre


def model_to_world(model: xr.DataArray, x, y) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates (cdp_x, cdp_y) in m of points (x, y) in m of a cube's frame.

    For a rotated cube (coords "cdp_x", "cdp_y", as :func:`~devito_crfwi.io.read_segy` gives
    it) the map is the affine transform fitted to those coords; for an axis-aligned cube the
    identity. ``x`` and ``y`` are numbers or arrays of one shape (for example the
    ``source_x``/``source_y`` of gathers simulated on the cube, which are in its frame).
    """
    matrix, offset = _affine(model, "model_to_world")
    points = np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)), axis=-1)
    world = points @ matrix.T + offset
    return world[..., 0], world[..., 1]


def world_to_model(model: xr.DataArray, cdp_x, cdp_y) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) in m of a cube's frame at world coordinates (cdp_x, cdp_y) in m: the
    inverse of :func:`model_to_world`, for placing sources or receivers given in world
    coordinates on a rotated cube."""
    matrix, offset = _affine(model, "world_to_model")
    world = np.stack(np.broadcast_arrays(np.asarray(cdp_x, float), np.asarray(cdp_y, float)),
                     axis=-1)
    local = (world - offset) @ np.linalg.inv(matrix).T
    return local[..., 0], local[..., 1]
