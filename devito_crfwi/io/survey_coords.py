"""A cube's survey coords (line numbers, world coordinates) <-> SEG-Y trace header values.

:func:`read_segy` gives a cube whose line numbers are not 1, 2, ... coords "iline" (y,) and
"xline" (x,), and a rotated or mirrored cube also "cdp_x" and "cdp_y" (x, y) and attrs
"rotation" and "yflip" (:func:`survey_coords`); :func:`write_segy` writes them back as
INLINE_3D, CROSSLINE_3D and the trace coordinates (:func:`survey_headers`), after checking
that read_segy will read the same grid (:func:`check_world_grid`). The names follow segysak
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

__all__ = ["check_world_grid", "survey_coords", "survey_headers"]


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
    its inline (ny,) and crossline (nx,) numbers, from its coords (see :func:`write_segy`)."""
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
    """The frame of the cdp_x/cdp_y to be written, as read_segy will find it; refuses a grid
    it would refuse, or one whose spacing is not the model's."""
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
