"""The grid of a SEG-Y velocity model from its header values: numpy only, no file.

:func:`select_traces` picks the traces that form the model and their order (a 2-D line, the
inline x crossline grid of a cube, or one line of it) from the INLINE_3D and CROSSLINE_3D
numbers; :func:`lateral_coords` and :func:`depth_coords` give the coords in m of its axes
from the given spacings, the textual header's ``key=value`` fields, the trace coordinates
(with SourceGroupScalar, a cube's possibly rotated grid found by
:func:`~devito_crfwi.io.survey_frame.fit_frame`) and the sample interval, with the
precedence that :func:`~devito_crfwi.io.read_segy` documents. Header values that give no grid raise
:class:`GeometryError`; ``read_segy`` reports it as a :class:`~devito_crfwi.io.SegyError`
naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .axes import axis_values, regular_axis
from .errors import GeometryError
from .headers import apply_scalar, float_field, scalar_resolution
from .schema import MODEL_DIMS_3D
from .survey_frame import SurveyFrame, fit_frame

__all__ = ["GeometryError", "LateralGrid", "depth_coords", "lateral_coords", "select_traces"]

_MIN_DZ_FROM_HEADER = 0.1  # m; a smaller dz from the sample interval is taken as a misread


def _text_spacing(fields: Mapping[str, str], key: str) -> float | None:
    """A spacing stated in the textual header (``dx=``/``dz=``), None when absent."""
    value = float_field(fields, key)
    if value is not None and value <= 0:
        raise GeometryError(
            f"the textual header says {key}={fields[key]}",
            f"pass {key}=<metres> to read_segy",
        )
    return value


def _grid_traces(inlines: np.ndarray,
                 crosslines: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Indices of the traces of a full inline x crossline grid, in C order of (x, y).

    x follows the crossline numbers (along an inline), y the inline numbers. Refuses
    unevenly stepped line numbers (whole lines missing), a pair held by several traces
    and pairs without a trace, so the cube is never silently padded or warped.
    """
    for name, field, numbers in (("inline", "INLINE_3D (bytes 189-192)", inlines),
                                 ("crossline", "CROSSLINE_3D (bytes 193-196)", crosslines)):
        present = np.unique(numbers)
        steps = np.unique(np.diff(present))
        if steps.size > 1:
            step = np.gcd.reduce(steps)
            missing = np.setdiff1d(np.arange(present[0], present[-1] + step, step), present)
            listed = ", ".join(str(v) for v in missing[:5]) + (", ..." if missing.size > 5 else "")
            raise GeometryError(
                f"the {field} numbers are not evenly stepped (steps "
                f"{', '.join(str(v) for v in steps[:5])}): {name}s {listed} are missing from "
                f"the grid of {name}s {present[0]}..{present[-1]} step {step}",
                "read one line with inline=<number> or crossline=<number>",
            )
    inline_numbers, y_index = np.unique(inlines, return_inverse=True)
    crossline_numbers, x_index = np.unique(crosslines, return_inverse=True)
    nx, ny = crossline_numbers.size, inline_numbers.size
    cell = x_index.ravel() * ny + y_index.ravel()
    counts = np.bincount(cell, minlength=nx * ny)

    def pairs(cells: np.ndarray) -> str:
        named = "; ".join(f"inline {inline_numbers[c % ny]}, crossline {crossline_numbers[c // ny]}"
                          for c in cells[:3])
        return named + ("; ..." if cells.size > 3 else "")

    doubled = np.flatnonzero(counts > 1)
    if doubled.size:
        traces = np.flatnonzero(cell == doubled[0])[:3] + 1
        raise GeometryError(
            f"{pairs(doubled)} (INLINE_3D, CROSSLINE_3D): each held by several traces (the first "
            f"by {counts[doubled[0]]}: traces {', '.join(map(str, traces))}; {doubled.size} "
            "pair(s) duplicated)",
            "read_segy needs one trace per (inline, crossline); read pre-stack gathers with "
            "read_shots",
        )
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise GeometryError(
            f"the inline x crossline grid is incomplete: {cell.size} traces for {ny} inlines x "
            f"{nx} crosslines; no trace at {pairs(empty)} (INLINE_3D, CROSSLINE_3D; "
            f"{empty.size} missing)",
            "complete the cube, or read one line with inline=<number> or crossline=<number>",
        )
    order = np.empty(nx * ny, dtype=np.int64)
    order[cell] = np.arange(cell.size)
    return order, (nx, ny)


def select_traces(inlines: np.ndarray, crosslines: np.ndarray,
                  inline: int | None = None, crossline: int | None = None
                  ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Indices of the traces that form the model, in model order, and its lateral shape.

    ``inlines`` and ``crosslines`` are the INLINE_3D and CROSSLINE_3D numbers of the traces
    in file order, int arrays of shape (n_traces,). A 3-D file (several inlines and
    crosslines forming more than a diagonal) gives its whole grid, shape (nx, ny) with the
    traces in C order (see :func:`_grid_traces`), unless ``inline`` (that line's traces
    ordered by crossline) or ``crossline`` (ordered by inline) picks one line. A 2-D line,
    or one picked line, gives shape (n,).
    """
    n = inlines.size
    lines = {"inline": (inlines, crosslines, inline), "crossline": (crosslines, inlines, crossline)}
    unique_il, unique_xl = np.unique(inlines), np.unique(crosslines)
    is_3d = unique_il.size > 1 and unique_xl.size > 1 and n > max(unique_il.size, unique_xl.size)
    if not is_3d:
        for name, (numbers, _, chosen) in lines.items():
            unique = np.unique(numbers)
            if chosen is not None and not (unique.size == 1 and chosen == unique[0]):
                raise GeometryError(
                    f"{name}={chosen} was given but the file is a 2-D line ({name} numbers "
                    f"{unique.min()}..{unique.max()})",
                    f"leave {name}=None to read its traces in file order",
                )
        return np.arange(n), (n,)
    if inline is None and crossline is None:
        return _grid_traces(inlines, crosslines)
    spans = (f"inlines {unique_il.min()}..{unique_il.max()}, "
             f"crosslines {unique_xl.min()}..{unique_xl.max()}")
    if inline is not None and crossline is not None:
        raise GeometryError(f"inline={inline} and crossline={crossline} were both given",
                            "pass one of them to read that line as a 2-D model")
    name = "inline" if inline is not None else "crossline"
    numbers, across, number = lines[name]
    chosen = np.flatnonzero(numbers == number)
    if chosen.size == 0:
        raise GeometryError(f"{name} {number} is not in the file ({spans})")
    positions = across[chosen]
    if np.unique(positions).size != positions.size:
        raise GeometryError(
            f"{name} {number} holds several traces at one position (pre-stack gathers?)",
            "read_segy needs one trace per x position; read gathers with read_shots",
        )
    chosen = chosen[np.argsort(positions, kind="stable")]
    return chosen, (chosen.size,)


def _line_numbers(headers: Mapping[str, np.ndarray],
                  shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Crossline numbers along x (nx,) and inline numbers along y (ny,), for messages."""
    if "INLINE_3D" in headers and "CROSSLINE_3D" in headers:
        return (headers["CROSSLINE_3D"].reshape(shape)[:, 0],
                headers["INLINE_3D"].reshape(shape)[0, :])
    return np.arange(shape[0]) + 1, np.arange(shape[1]) + 1


def _coordinate_axes(
    headers: Mapping[str, np.ndarray], shape: tuple[int, ...], *, strict: bool
) -> tuple[dict[str, tuple[float, float]], SurveyFrame | None,
           tuple[np.ndarray, np.ndarray] | None]:
    """(origin, spacing) in m of the lateral axes the trace coordinates give, by dim; for a
    cube also its frame and the coordinates (east, north), each (nx, ny) in m.

    Tries CDP_X/CDP_Y, then SourceX/SourceY, then GroupX/GroupY, all with
    SourceGroupScalar, skipping a pair that does not vary. ``headers`` are in model
    order, ``shape`` is (n,) for a line or (nx, ny) for a cube. On a line, when y varies
    too, x is the distance along the line from the first trace (origin 0, the spacing
    fitted as a cube's, since rounded coordinates of a slanted line are uneven); a cube's grid
    may be rotated against the coordinate axes (:func:`~.survey_frame.fit_frame`): its axes
    are then in its own frame, from 0 at the first trace. Empty when no pair varies; with
    ``strict``, irregular coordinates raise :class:`GeometryError`, otherwise they give
    nothing either.
    """
    scalar = headers["SourceGroupScalar"]
    for x_name, y_name in (("CDP_X", "CDP_Y"), ("SourceX", "SourceY"), ("GroupX", "GroupY")):
        x = apply_scalar(headers[x_name], scalar).reshape(shape)
        y = apply_scalar(headers[y_name], scalar).reshape(shape)
        if x.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
            continue
        if len(shape) == 2:
            crosslines, inlines = _line_numbers(headers, shape)
            try:
                frame = fit_frame(x, y, scalar_resolution(scalar), names=(x_name, y_name),
                                  crosslines=crosslines, inlines=inlines)
            except GeometryError:
                if strict:
                    raise
                return {}, None, None
            # A rotated or mirrored grid is measured from its first trace (cdp_x/cdp_y keep
            # the world position): origins of millions of metres help nobody downstream.
            origins = frame.origin if frame.aligned else (0.0, 0.0)
            axes = {dim: (origin, step) for dim, origin, step
                    in zip("xy", origins, frame.spacing, strict=True) if step}
            return axes, frame, (x, y)
        try:
            if np.ptp(y) == 0:
                return {"x": regular_axis(x, x_name)}, None, None
            # A slanted line (a 2-D survey, or one line of a rotated cube): x is the distance
            # from its first trace, its spacing fitted as a cube's (coordinates are rounded).
            numbers = headers.get("CROSSLINE_3D", np.arange(x.size) + 1)
            line = fit_frame(x[:, None], y[:, None], scalar_resolution(scalar),
                             names=(x_name, y_name), crosslines=numbers,
                             inlines=headers.get("INLINE_3D", np.ones(1, dtype=int)))
            return {"x": (0.0, line.spacing[0])}, None, None
        except ValueError as err:
            if not strict:
                return {}, None, None
            problem = err.problem if isinstance(err, GeometryError) else str(err)
            raise GeometryError(
                f"trace coordinates do not give a regular x axis ({problem})",
                "pass dx=<metres> to read the traces in file order with that spacing",
            ) from err
    return {}, None, None


class LateralGrid(NamedTuple):
    """What :func:`lateral_coords` finds."""

    coords: dict[str, np.ndarray]
    """"x" (and "y"): (n,) float64, m, in the cube's own frame when it is rotated."""
    frame: SurveyFrame | None
    """A cube's frame (rotation, yflip) when its trace coordinates give one, else None."""
    world: tuple[np.ndarray, np.ndarray] | None
    """The trace coordinates (east, north) the frame came from, each (nx, ny), m."""


def lateral_coords(fields: Mapping[str, str], headers: Mapping[str, np.ndarray],
                   shape: tuple[int, ...], given: Mapping[str, float | None],
                   text_names: Mapping[str, str]) -> LateralGrid:
    """The x (and for a cube y) coords in m (float64), by dim, and a cube's frame.

    Spacing: ``given`` (m or None, by dim) > textual header ``d<name>=`` > trace
    coordinates; origin: textual ``<name>0=`` > trace coordinates > 0, where ``text_names``
    maps each dim to the name the textual header uses for it. A cube's frame (rotation and
    handedness of its grid) always comes from the trace coordinates, when they vary.
    ``fields`` are the textual header's (:func:`~devito_crfwi.io.headers.parse_text_fields`);
    ``headers`` hold the trace header values CDP_X, CDP_Y, SourceX, SourceY, GroupX, GroupY
    and SourceGroupScalar (and, for messages, INLINE_3D and CROSSLINE_3D), arrays of shape
    (n_traces,) in model order (see :func:`select_traces`); ``shape`` is the lateral
    shape, (nx,) or (nx, ny).
    """
    dims = MODEL_DIMS_3D[: len(shape)]
    steps = {d: given[d] if given[d] is not None
             else _text_spacing(fields, f"d{text_names[d]}") for d in dims}
    origins = {d: float_field(fields, f"{text_names[d]}0") for d in dims}
    missing = [d for d in dims if steps[d] is None]
    coords, frame, world = {}, None, None
    if len(shape) == 2 or missing or None in origins.values():
        coords, frame, world = _coordinate_axes(headers, shape, strict=bool(missing))
    missing = [d for d in missing if d not in coords]
    if missing:
        names, along = (("CDP_X, SourceX, GroupX", "") if len(shape) == 1 else
                        ("CDP_X/CDP_Y, SourceX/SourceY, GroupX/GroupY",
                         f" along {' and '.join(missing)}"))
        raise GeometryError(
            f"no {' and '.join(missing)} spacing: the textual header has no "
            f"{' or '.join(repr(f'd{d}=') for d in missing)} and the trace coordinates "
            f"({names}) do not vary{along}",
            f"pass {' and '.join(f'd{d}=<metres>' for d in missing)} to read_segy",
        )
    result = {}
    for dim, n in zip(dims, shape, strict=True):
        step = steps[dim] if steps[dim] is not None else coords[dim][1]
        origin = (origins[dim] if origins[dim] is not None
                  else coords[dim][0] if dim in coords else 0.0)
        result[dim] = axis_values(origin, step, n)
    return LateralGrid(result, frame, world)


def depth_coords(fields: Mapping[str, str], dz: float | None, sample_interval: int,
                 n_samples: int) -> np.ndarray:
    """The z coords in m: spacing ``dz`` > textual ``dz=`` > ``sample_interval`` in mm.

    The origin is the textual header's ``z0=``, else 0; ``n_samples`` is the trace length.
    """
    step = dz if dz is not None else _text_spacing(fields, "dz")
    if step is None:
        if sample_interval == 0:
            raise GeometryError(
                "no depth spacing: the textual header has no 'dz=' and the sample interval is 0",
                "pass dz=<metres> to read_segy",
            )
        step = sample_interval / 1000.0
        if step < _MIN_DZ_FROM_HEADER:
            raise GeometryError(
                f"the sample interval {sample_interval} would mean dz = {step:g} m (this package "
                "reads a depth model's sample interval as millimetres), which is implausible",
                "pass dz=<metres> to read_segy",
            )
    return axis_values(float_field(fields, "z0") or 0.0, step, n_samples)
