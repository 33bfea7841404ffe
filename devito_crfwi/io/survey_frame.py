"""The frame of a 3-D survey grid from its trace coordinates: rotation, handedness, spacing.

numpy only. The traces of a post-stack cube lie on a regular grid of inlines and
crosslines that may be rotated against the coordinate axes (CDP_X towards grid east,
CDP_Y towards grid north). A model keeps dims ("x", "y", "z") on that grid: x runs along
an inline (increasing crossline number), y across inlines (increasing inline number), both
in m. Its frame, in the attrs ``read_segy`` gives a rotated cube:

* ``rotation``: degrees, counterclockwise from +CDP_X to +x, in [0, 360).
  ``segyio.tools.rotation(f, line="iline")`` gives the same direction as the clockwise
  angle from +CDP_Y, in radians: ``radians((90 - rotation) % 360)``.
* ``yflip``: +1 when +y lies 90 degrees counterclockwise from +x (as CDP_Y from CDP_X),
  -1 when clockwise (inline numbers increase to the right of the inline direction).
* world position, in m, of the model point (x, y), where the first trace (lowest inline
  and crossline numbers) sits at (x_0, y_0):
  ``(cdp_x, cdp_y) = cdp_0 + (x - x_0) * (cos r, sin r) + (y - y_0) * yflip * (-sin r, cos r)``
  with ``cdp_0`` the first trace's coordinates. ``read_segy`` measures x and y of a rotated
  or mirrored cube from its first trace (x_0 = y_0 = 0) and keeps the world coordinates
  as 2-D coords ``cdp_x``, ``cdp_y``; rotation 0 with yflip +1 is the axis-aligned cube,
  read as before with x = cdp_x and y = cdp_y.

:func:`fit_frame` finds the frame from the coordinates of every trace. Rotation, spacings
and origin are least-squares estimates, each replaced by its shortest decimal within the
error that the coordinates' rounding can cause (so 12.5 m bins rotated by 30 degrees read
as ``dx=12.5``, ``rotation=30.0`` from coordinates rounded to centimetres; exact
coordinates keep the exact estimates), and every trace must lie within
:func:`grid_tolerance` of the grid they give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import GeometryError

__all__ = ["SurveyFrame", "fit_frame", "grid_tolerance"]

#: A trace may lie this fraction of the smaller bin size off the regular grid (coordinates
#: stored more coarsely than the header's scalar allows, e.g. whole metres with scalar -100).
BIN_FRACTION = 0.1
_RESOLUTION_STEPS = 1.5
_MOST_RELATIVE, _MOST_DEGREES = 1e-3, 0.01  # the furthest a spacing or rotation is snapped
_FLOAT_SLACK = 1e-14  # relative float64 rounding allowed on top, of the largest coordinate


@dataclass(frozen=True)
class SurveyFrame:
    """Where a cube's (x, y) grid lies in world coordinates (see the module docstring).

    Attributes
    ----------
    rotation : float
        Degrees, counterclockwise from +CDP_X to +x, in [0, 360).
    yflip : int
        +1 or -1.
    spacing : tuple of (float or None)
        (dx, dy) in m: between neighbouring crosslines and inlines; None along an axis where
        the coordinates do not change.
    origin : tuple of float
        (x0, y0) in m: the first trace's position (lowest inline and crossline numbers)
        projected onto +x and +y, so its cdp_x and cdp_y when the frame is aligned.
    """

    rotation: float
    yflip: int
    spacing: tuple[float | None, float | None]
    origin: tuple[float, float]

    @property
    def aligned(self) -> bool:
        """True when the frame is the world frame (x = cdp_x, y = cdp_y)."""
        return self.rotation == 0.0 and self.yflip == 1

    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """World unit vectors (east, north) of +x and +y, each of shape (2,)."""
        quarter, rest = divmod(self.rotation, 90.0)
        if rest == 0.0:  # exact, so that an axis-aligned cube keeps its coordinates bit for bit
            u = np.array([(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][int(quarter) % 4])
        else:
            angle = np.radians(self.rotation)
            u = np.array([np.cos(angle), np.sin(angle)])
        return u, self.yflip * np.array([-u[1], u[0]])


def grid_tolerance(resolution: float, spacing: tuple[float | None, float | None]) -> float:
    """Largest distance in m (per coordinate) of a trace from its grid node.

    One and a half steps of the header coordinates (``resolution``, m: half a step of
    rounding, and as much again for the fitted grid's own error) or :data:`BIN_FRACTION`
    of the smaller known bin size, whichever is larger.
    """
    bins = [step for step in spacing if step]
    coarse = _RESOLUTION_STEPS * resolution
    return max(coarse, BIN_FRACTION * min(bins)) if bins else coarse


def _shortest(value: float, tolerance: float) -> float:
    """The decimal with the fewest digits after the point within ``tolerance`` of ``value``."""
    for digits in range(16):
        candidate = round(value, digits)
        if abs(candidate - value) <= tolerance:
            return candidate
    return value


def _varies(values: np.ndarray, axis: int) -> bool:
    first = values.take([0], axis=axis)
    return not np.array_equal(values, np.broadcast_to(first, values.shape))


def _place(points: np.ndarray, rotation: float, yflip: int,
           spacing: tuple[float | None, float | None], origin_error: float,
           slack: float) -> tuple[SurveyFrame, np.ndarray]:
    """The frame with these rotation and spacings, its origin fitted; and each trace's
    distance from its node (largest over east and north, m), shape (nx, ny)."""
    nx, ny = points.shape[:2]
    frame = SurveyFrame(rotation % 360.0, yflip, spacing, (0.0, 0.0))
    u, w = frame.directions()
    dx, dy = (step or 0.0 for step in spacing)
    i, j = np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64)
    # Projections onto +x and +y: east * 1 + north * 0 is east exactly, when aligned.
    along = points[..., 0] * u[0] + points[..., 1] * u[1] - dx * i[:, None]
    across = points[..., 0] * w[0] + points[..., 1] * w[1] - dy * j[None, :]
    origin = tuple(_shortest(float(v.mean()), origin_error + slack) for v in (along, across))
    frame = SurveyFrame(frame.rotation, yflip, spacing, origin)
    x = origin[0] + dx * i
    y = origin[1] + dy * j
    fitted = x[:, None, None] * u + y[None, :, None] * w
    return frame, np.abs(points - fitted).max(axis=-1)


def fit_frame(east: np.ndarray, north: np.ndarray, resolution: float, *,
              names: tuple[str, str], crosslines: np.ndarray,
              inlines: np.ndarray) -> SurveyFrame | None:
    """The frame of a cube's grid from its trace coordinates, or None if they do not vary.

    Parameters
    ----------
    east, north : numpy.ndarray, shape (nx, ny), float, m
        World coordinates of the traces in model order (x: crossline index, y: inline
        index); (n, 1) for one line.
    resolution : float
        Step of the header coordinates in m (see
        :func:`~devito_crfwi.io.headers.scalar_resolution`).
    names : (str, str)
        The header fields, for messages ("CDP_X", "CDP_Y").
    crosslines, inlines : numpy.ndarray, shapes (nx,) and (ny,)
        Line numbers, for messages.

    Raises
    ------
    GeometryError
        A trace lies farther than :func:`grid_tolerance` from the best rectangular grid
        (irregular, skewed or scattered coordinates), naming its inline and crossline.
    """
    points = np.stack([east, north], axis=-1).astype(np.float64)  # (nx, ny, 2)
    nx, ny = points.shape[:2]
    along_x, along_y = _varies(points, 0), _varies(points, 1)
    if not (along_x or along_y):
        return None
    # Least-squares affine grid: points ~ c + i a + j b (centred indices).
    centred = points - points[0, 0]
    i = np.arange(nx) - (nx - 1) / 2.0
    j = np.arange(ny) - (ny - 1) / 2.0
    # One line (shape (n, 1) or (1, n)) has no step across it.
    a = (i[:, None] * centred.mean(axis=1)).sum(axis=0) / ((i**2).sum() or 1.0)
    b = (j[:, None] * centred.mean(axis=0)).sum(axis=0) / ((j**2).sum() or 1.0)
    fitted = centred.mean(axis=(0, 1)) + i[:, None, None] * a + j[None, :, None] * b
    sigma = float(np.sqrt(((centred - fitted) ** 2).sum() / max(2 * nx * ny - 6, 1)))
    # Rounded coordinates err alike along a line (their rounding is periodic on a grid), so
    # bound the estimates' errors by the rounding's full width, sqrt(12) sigma, over a line's
    # length rather than by least-squares standard errors; exact coordinates give 0.
    width = np.sqrt(12.0) * sigma
    errors = (width / max(nx - 1, 1), width / max(ny - 1, 1))
    slack = _FLOAT_SLACK * (float(np.abs(points).max()) + 1.0)
    yflip = -1 if along_x and along_y and a[0] * b[1] - a[1] * b[0] < 0 else 1
    # +x from both line directions, each weighted by its least-squares precision (a short
    # line is a poor compass): the crossline step a, and the inline step b turned back by
    # 90 degrees; a unit vector times |a|^2 ny sum(i^2) is a times |a| ny sum(i^2).
    lengths = (float(np.hypot(*a)) * (nx - 1), float(np.hypot(*b)) * (ny - 1))
    from_b = yflip * np.array([b[1], -b[0]])
    direction = (a * (np.hypot(*a) * ny * (i**2).sum() if along_x else 0.0)
                 + from_b * (np.hypot(*b) * nx * (j**2).sum() if along_y else 0.0))
    rotation = float(np.degrees(np.arctan2(direction[1], direction[0])) % 360.0)
    u, w = SurveyFrame(rotation, yflip, (None, None), (0.0, 0.0)).directions()
    steps = (float(a @ u) if along_x else None, float(b @ w) if along_y else None)
    # Snap no further than the rounding could move an estimate, nor than 1e-3 of a bin or
    # 0.01 degrees: 6.25 m bins measured in whole metres do not become 6.2 m.
    snapped = (
        _shortest(rotation, min(np.degrees(width / max(lengths)), _MOST_DEGREES) + 1e-12),
        tuple(None if step is None else _shortest(step, min(error, _MOST_RELATIVE * step) + slack)
              for step, error in zip(steps, errors, strict=True)),
    )
    origin_error = width / np.sqrt(nx * ny)
    tolerance = grid_tolerance(resolution, steps) + slack
    for angle, spacing in (snapped, (rotation, steps)):
        frame, distance = _place(points, angle, yflip, spacing, origin_error, slack)
        if distance.max() <= tolerance and all(step is None or step > 0 for step in spacing):
            return frame
    worst = np.unravel_index(int(np.argmax(distance)), distance.shape)
    skew = ""
    if along_x and along_y:
        cosine = float(a @ b) / (np.hypot(*a) * np.hypot(*b))
        skew = (f", the crossline and inline directions "
                f"{np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))):.6g} degrees apart")
    known = ", ".join(f"d{d} {step:.6g} m" for d, step in zip("xy", steps, strict=True) if step)
    raise GeometryError(
        f"{names[0]}/{names[1]} do not lie on a rectangular grid: the trace at inline "
        f"{inlines[worst[1]]}, crossline {crosslines[worst[0]]} is {distance.max():.4g} m off "
        f"the best fit (rotation {rotation:.6g} degrees, {known}{skew}), more than "
        f"{tolerance:.4g} m (the larger of {_RESOLUTION_STEPS:g} times the coordinates' "
        f"resolution, {resolution:g} m, and {BIN_FRACTION:g} of a bin)",
        "pass dx=<metres> and dy=<metres> to place the traces by crossline and inline number",
    )
