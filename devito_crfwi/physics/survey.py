"""Acquisition: source and receiver positions, the recording time axis and the wavelet.

All quantities are SI: positions in m as ``(x, z)`` pairs, times in s, frequencies in Hz.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..io.schema import check_model, check_shots
from ..io.warn import warn
from .grid import RICKER_FMAX_FACTOR
from .resampling import sinc_resampling

# Recording intervals the default picks from (s): round numbers that SEG-Y stores exactly.
_NICE_INTERVALS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016)


# The Ricker amplitude spectrum falls to 9 exp(-8) ~ 0.3% of its peak at 3 f0: above that
# the source carries nothing a gradient must keep (sets the wavefield storage interval).
RICKER_TOP_FACTOR = 3.0
_TOP_LEVEL = RICKER_TOP_FACTOR**2 * np.exp(1.0 - RICKER_TOP_FACTOR**2)


def ricker(f0: float, t: np.ndarray, t0: float | None = None) -> np.ndarray:
    """Ricker wavelet of peak frequency ``f0`` (Hz) at times ``t`` (s), peaked at ``t0``.

    ``t0`` defaults to ``1 / f0`` so the wavelet starts near zero at ``t = 0``.
    """
    t0 = 1.0 / f0 if t0 is None else t0
    arg = (np.pi * f0 * (t - t0)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _count(name: str, value, most: int, columns: str) -> int:
    """``value`` as an int in 1..``most``; ``columns`` says where that limit comes from."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"Survey.surface: {name} must be an int >= 1, got {value!r}")
    if value > most:
        raise ValueError(
            f"Survey.surface: {name} = {value} would put two at the same position: they are "
            f"snapped to the {columns}; give at most {most}"
        )
    return int(value)


def check_recording_interval(dt: float, f0: float) -> None:
    """Warn when sampling at ``dt`` (s) aliases a Ricker wavelet of peak ``f0`` (Hz).

    The Ricker's spectrum is ~3% of its peak at ``RICKER_FMAX_FACTOR * f0`` (2.5 f0): that
    frequency must stay below the Nyquist frequency ``1 / (2 dt)``, i.e. ``dt <= 1 / (5 f0)``.
    """
    fmax = RICKER_FMAX_FACTOR * f0
    if dt > 1.0 / (2.0 * fmax):
        warn(
            f"dt = {dt:g} s aliases the Ricker wavelet of f0 = {f0:g} Hz: its spectrum reaches "
            f"~{fmax:g} Hz ({RICKER_FMAX_FACTOR} f0) but the recording's Nyquist frequency "
            f"1/(2 dt) is {0.5 / dt:g} Hz; use dt <= {1.0 / (2.0 * fmax):g} s (or leave dt "
            f"out for {default_recording_interval(f0):g} s)"
        )


def default_recording_interval(f0: float) -> float:
    """Largest round interval (s) that samples a Ricker of peak ``f0`` (Hz) ~ 8x above Nyquist."""
    limit = 1.0 / (20.0 * f0)
    fitting = [dt for dt in _NICE_INTERVALS if dt <= limit]
    return fitting[-1] if fitting else limit


@dataclass(frozen=True, eq=False)
class Survey:
    """Sources, receivers, recording time axis and source wavelet of a 2-D survey.

    Parameters
    ----------
    source_positions : ndarray (shot, 2), m
        ``(x, z)`` of each shot's point source.
    receiver_positions : ndarray (receiver, 2) or (shot, receiver, 2), m
        ``(x, z)`` of the receivers, shared by all shots or given per shot.
    f0 : float, Hz
        Peak frequency of the Ricker wavelet (also used for grid-dispersion checks).
    t_max : float, s
        Recording length; samples are ``0, dt, ..., t_max``.
    dt : float, s, optional
        Recording interval. Defaults to a round interval suited to ``f0``.
    wavelet : ndarray (time,), optional
        A user wavelet sampled on the recording axis; defaults to a Ricker of ``f0``.
    """

    source_positions: np.ndarray
    receiver_positions: np.ndarray
    f0: float
    t_max: float
    dt: float | None = None
    wavelet: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        f0 = _positive("f0 (Hz)", self.f0)
        t_max = _positive("t_max (s)", self.t_max)
        dt = default_recording_interval(f0) if self.dt is None else _positive("dt (s)", self.dt)
        if dt > t_max:
            raise ValueError(f"dt = {dt} s is longer than t_max = {t_max} s")
        src = np.array(self.source_positions, dtype=np.float64, ndmin=2)
        rec = np.array(self.receiver_positions, dtype=np.float64)
        if src.ndim != 2 or src.shape[1] != 2 or len(src) == 0:
            raise ValueError(
                f"source_positions must have shape (shot, 2) with (x, z) in m, got {src.shape}"
            )
        if rec.ndim == 2:
            rec = np.broadcast_to(rec, (len(src), *rec.shape))
        if rec.ndim != 3 or rec.shape[0] != len(src) or rec.shape[2] != 2 or rec.shape[1] == 0:
            raise ValueError(
                "receiver_positions must have shape (receiver, 2) or (shot, receiver, 2) "
                f"with {len(src)} shots, got {np.shape(self.receiver_positions)}"
            )
        for name, arr in (("source_positions", src), ("receiver_positions", rec)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or Inf")
        set_(self, "f0", f0)
        set_(self, "t_max", t_max)
        set_(self, "dt", dt)
        set_(self, "source_positions", src)
        set_(self, "receiver_positions", np.ascontiguousarray(rec))
        if self.wavelet is not None:
            wav = np.asarray(self.wavelet, dtype=np.float64)
            if wav.shape != (self.nt,) or not np.all(np.isfinite(wav)):
                raise ValueError(
                    f"wavelet must be finite with shape ({self.nt},) on the recording axis, "
                    f"got shape {wav.shape}"
                )
            set_(self, "wavelet", wav)

    # -- sizes and axes ---------------------------------------------------------------
    @property
    def n_shots(self) -> int:
        return len(self.source_positions)

    @property
    def n_receivers(self) -> int:
        return self.receiver_positions.shape[1]

    @property
    def nt(self) -> int:
        """Number of recorded samples."""
        return int(round(self.t_max / self.dt)) + 1

    @property
    def time(self) -> np.ndarray:
        """Recording time axis (time,), s."""
        return np.arange(self.nt) * self.dt

    @property
    def fixed_spread(self) -> bool:
        """True when every shot records on the same receivers."""
        return bool(np.all(self.receiver_positions == self.receiver_positions[:1]))

    def source_wavelet(self, t: np.ndarray) -> np.ndarray:
        """The wavelet at regular times ``t`` from 0 (s): the Ricker, or the user wavelet
        band-limited interpolated (zero past ``t_max``)."""
        if self.wavelet is None:
            return ricker(self.f0, t)
        return sinc_resampling(self.time, t) @ self.wavelet

    def highest_frequency(self) -> float:
        """Hz above which the source spectrum stays below ~0.3% of its peak (3 f0 for a Ricker)."""
        if self.wavelet is None:
            return RICKER_TOP_FACTOR * self.f0
        n = 8 * self.nt
        spectrum = np.abs(np.fft.rfft(self.wavelet, n))
        top = np.nonzero(spectrum >= _TOP_LEVEL * spectrum.max())[0][-1]
        return float(np.fft.rfftfreq(n, self.dt)[top])

    def subset(self, shots: Sequence[int]) -> Survey:
        """The same survey restricted to the given shot indices."""
        idx = np.asarray(shots, dtype=int)
        return Survey(
            self.source_positions[idx],
            self.receiver_positions[idx],
            self.f0,
            self.t_max,
            self.dt,
            self.wavelet,
        )

    def check_inside(self, extent: tuple[tuple[float, float], tuple[float, float]]) -> None:
        """Raise ``ValueError`` if a source or receiver lies outside ``((x0, x1), (z0, z1))``."""
        (x0, x1), (z0, z1) = extent
        tol = 1e-6 * max(x1 - x0, z1 - z0)
        for name, pos in (
            ("source", self.source_positions[:, None, :]),
            ("receiver", self.receiver_positions),
        ):
            outside = (
                (pos[..., 0] < x0 - tol)
                | (pos[..., 0] > x1 + tol)
                | (pos[..., 1] < z0 - tol)
                | (pos[..., 1] > z1 + tol)
            )
            if outside.any():
                shot, i = np.argwhere(outside)[0]
                x, z = pos[shot, i]
                raise ValueError(
                    f"{name} of shot {shot} at (x={x:g} m, z={z:g} m) lies outside the model "
                    f"(x in [{x0:g}, {x1:g}] m, z in [{z0:g}, {z1:g}] m); "
                    f"{int(outside.sum())} position(s) are outside"
                )

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def surface(
        cls,
        vp,
        n_shots: int,
        n_receivers: int,
        f0: float,
        t_max: float,
        *,
        source_depth: float | None = None,
        receiver_depth: float | None = None,
        dt: float | None = None,
        wavelet: np.ndarray | None = None,
    ) -> Survey:
        """A surface survey over model ``vp``: shots and a fixed receiver spread near the top.

        Parameters
        ----------
        vp : xr.DataArray (x, z), m/s
            The model, for its extent (coords in m); checked with
            :func:`~devito_crfwi.io.schema.check_model`.
        n_shots, n_receivers : int >= 1
            Evenly spaced across the model width, snapped to grid nodes (so positions are
            exact multiples of dx: no interpolation, and SEG-Y headers store them
            exactly); shots keep one cell from the sides. No two may share a node: at
            most nx - 2 shots (or 1) and nx receivers.
        f0 : float, Hz
            Ricker peak frequency.
        t_max : float, s
            Recording length.
        source_depth, receiver_depth : float, m, optional
            Depth below the model top; default two grid cells.
        dt : float, s, optional
            Recording interval; default from ``f0``. Without a ``wavelet``, a ``dt`` over
            ``1 / (5 f0)`` warns: it aliases the Ricker (see
            :func:`check_recording_interval`).
        wavelet : ndarray (time,), optional
            A user wavelet on the recording axis (see :class:`Survey`).
        """
        model = check_model(vp, where="Survey.surface")
        x, z = model.x, model.z
        (dx, dz), nx = model.spacing, len(x)
        n_shots = _count("n_shots", n_shots, max(nx - 2, 1),
                         f"{nx - 2} grid columns one cell in from the sides of the model's {nx}")
        n_receivers = _count("n_receivers", n_receivers, nx, f"model's {nx} grid columns (x)")
        source_depth = 2 * dz if source_depth is None else float(source_depth)
        receiver_depth = 2 * dz if receiver_depth is None else float(receiver_depth)
        if n_shots == 1:
            sx = np.array([(x[0] + x[-1]) / 2])
        else:
            sx = np.linspace(x[0] + dx, x[-1] - dx, n_shots)
        gx = np.linspace(x[0], x[-1], n_receivers) if n_receivers > 1 else sx[:1]
        sx, gx = (x[0] + np.round((p - x[0]) / dx) * dx for p in (sx, gx))
        src = np.stack([sx, np.full_like(sx, z[0] + source_depth)], axis=1)
        rec = np.stack([gx, np.full_like(gx, z[0] + receiver_depth)], axis=1)
        survey = cls(src, rec, f0, t_max, dt, wavelet)
        survey.check_inside(((x[0], x[-1]), (z[0], z[-1])))
        if wavelet is None:
            check_recording_interval(survey.dt, survey.f0)
        return survey

    @classmethod
    def from_shots(cls, observed, f0: float | None = None) -> Survey:
        """The survey that recorded gathers ``observed`` (as :func:`~devito_crfwi.read_shots`
        returns them: (shot, time, receiver) with source/receiver coords in m, checked with
        :func:`~devito_crfwi.io.schema.check_shots`).

        Positions come from the coords, dt and t_max from the time axis (s), ``f0`` (Hz) from
        the argument or ``observed.attrs["f0"]``; the source is a Ricker wavelet of ``f0``. An
        ``f0`` that contradicts the file's is refused: the modelled source must be the
        recorded one.
        """
        dt = check_shots(observed, "observed", where="Survey.from_shots")
        recorded = observed.attrs.get("f0")
        if f0 is not None and recorded is not None and not np.isclose(f0, recorded, rtol=1e-3):
            raise ValueError(f"f0 = {f0:g} Hz contradicts the shot file's f0 = {recorded:g} Hz: "
                             "the modelled source must be the recorded one; leave f0 out (or "
                             "fix the file)")
        f0 = recorded if f0 is None else f0
        if f0 is None:
            raise ValueError("the gathers do not state f0 (attrs['f0']): give f0 in Hz")
        time_axis = np.asarray(observed["time"], dtype=np.float64)
        sources = np.stack([np.asarray(observed["source_x"]),
                            np.asarray(observed["source_z"])], -1)
        receivers = np.stack([np.asarray(observed["receiver_x"]),
                              np.asarray(observed["receiver_z"])], -1)
        return cls(sources, receivers, f0=float(f0), t_max=float(time_axis[-1]), dt=dt)
