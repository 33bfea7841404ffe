"""Acquisition: source and receiver positions, the recording time axis and the wavelet.

All quantities are SI: positions in m as ``(x, z)`` pairs in 2-D or ``(x, y, z)`` triples in
3-D (depth last), times in s, frequencies in Hz.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..io.schema import check_model, check_shots, wavelet_difference
from ..io.traces import missing_traces
from ..io.warn import warn
from .resampling import sinc_resampling
from .wavelet import (
    RICKER_RESOLVED_FACTOR,
    RICKER_TOP_FACTOR,
    TOP_LEVEL,
    amplitude_spectrum,
    peak_frequency,
    ricker,
)

# Recording intervals the default picks from (s): round numbers that SEG-Y stores exactly.
_NICE_INTERVALS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016)


def _number(name: str, value) -> float:
    """``value`` as a float: an int, float or numpy number (no bool or text, which ``float``
    would take or refuse naming nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _positive(name: str, value: float) -> float:
    value = _number(name, value)
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


def _areal_counts(name: str, total, across: list[np.ndarray]) -> tuple[int, ...]:
    """Counts along each horizontal axis of a ``total`` (int) or per-axis (pair) layout."""
    if len(across) == 1 or not isinstance(total, int | np.integer):
        counts = tuple(np.atleast_1d(np.asarray(total, dtype=object)))
        if len(counts) != len(across):
            raise ValueError(f"Survey.surface: {name} must be an int or a pair (n_x, n_y) on a "
                             f"3-D model, got {total!r}")
        return counts
    total = _count(name, total, np.iinfo(np.int64).max, "")
    aspect = (across[0][-1] - across[0][0]) / (across[1][-1] - across[1][0])
    pairs = [(a, total // a) for a in range(1, total + 1) if total % a == 0]
    return min(pairs, key=lambda p: abs(np.log(p[0] / p[1]) - np.log(aspect)))


def _surface_line(name: str, axis: np.ndarray, label: str, n, inset: int) -> np.ndarray:
    """``n`` positions (m) evenly along the regular ``axis`` named ``label`` ("x" or "y"),
    ``inset`` cells in from its ends (the middle for one), snapped to its nodes."""
    h, size = axis[1] - axis[0], len(axis)
    nodes = "columns" if label == "x" else "rows (y)"
    if inset:
        most = max(size - 2, 1)
        where = f"{size - 2} grid {nodes} one cell in from the sides of the model's {size}"
    else:
        most = size
        where = f"model's {size} grid {'columns (x)' if label == 'x' else nodes}"
    n = _count(name, n, most, where)
    if n == 1:
        p = np.array([(axis[0] + axis[-1]) / 2])
    else:
        p = np.linspace(axis[0] + inset * h, axis[-1] - inset * h, n)
    return axis[0] + np.round((p - axis[0]) / h) * h


def check_recording_interval(dt: float, f0: float) -> None:
    """Warn when sampling at ``dt`` (s) aliases a Ricker wavelet of peak ``f0`` (Hz).

    The band a recording must resolve ends at ``RICKER_RESOLVED_FACTOR * f0`` (2.5 f0, see
    :mod:`.wavelet`): that frequency must stay below the Nyquist frequency ``1 / (2 dt)``,
    i.e. ``dt <= 1 / (5 f0)``.
    """
    fmax = RICKER_RESOLVED_FACTOR * f0
    if dt > 1.0 / (2.0 * fmax):
        warn(
            f"dt = {dt:g} s aliases the Ricker wavelet of f0 = {f0:g} Hz: its spectrum reaches "
            f"~{fmax:g} Hz ({RICKER_RESOLVED_FACTOR} f0) but the recording's Nyquist frequency "
            f"1/(2 dt) is {0.5 / dt:g} Hz; use dt <= {1.0 / (2.0 * fmax):g} s (or leave dt "
            f"out for {default_recording_interval(f0):g} s)"
        )


def _chosen_wavelet(observed, wavelet) -> np.ndarray | None:
    """:meth:`Survey.from_shots`' wavelet (time,): ``wavelet``, else the gathers' recorded
    ``attrs["wavelet"]`` (checked by ``check_shots``), else None (a Ricker); a ``wavelet``
    that differs from the recorded one is refused (``wavelet_difference``)."""
    recorded = observed.attrs.get("wavelet")
    if wavelet is None:
        return None if recorded is None else np.asarray(recorded, dtype=np.float64)
    nt = observed.sizes["time"]
    given = np.asarray(wavelet, dtype=np.float64)
    if given.shape != (nt,) or not np.all(np.isfinite(given)):
        raise ValueError(f"Survey.from_shots: wavelet must be {nt} finite samples on the "
                         f"gathers' time axis, got shape {given.shape}")
    gap = None if recorded is None else wavelet_difference(recorded, given)
    if gap is not None:
        raise ValueError(
            f"Survey.from_shots: wavelet contradicts the wavelet the gathers record "
            f"(attrs['wavelet'], largest difference {gap:.3g}): the modelled source must be "
            "the recorded one; leave wavelet out (or fix the file)")
    return given


def default_recording_interval(f0: float) -> float:
    """Largest round interval (s) that samples a Ricker of peak ``f0`` (Hz) ~ 8x above Nyquist."""
    limit = 1.0 / (20.0 * f0)
    fitting = [dt for dt in _NICE_INTERVALS if dt <= limit]
    return fitting[-1] if fitting else limit


@dataclass(frozen=True, eq=False)
class Survey:
    """Sources, receivers, recording time axis and source wavelet of a 2-D or 3-D survey.

    Parameters
    ----------
    source_positions : ndarray (shot, ndim), m
        ``(x, z)`` (2-D) or ``(x, y, z)`` (3-D) of each shot's point source.
    receiver_positions : ndarray (receiver, ndim) or (shot, receiver, ndim), m
        Positions of the receivers, shared by all shots or given per shot; ``ndim`` is
        that of the sources. A variable acquisition (shots with different receivers or
        receiver counts) pads each shot to the largest count with NaN positions: a
        receiver NaN in every coordinate is missing (not modelled, see
        :attr:`live_receivers`); every shot needs one live receiver.
    f0 : float or None, Hz
        Peak frequency of the Ricker wavelet; with a ``wavelet``, its peak frequency, which
        sizes the default absorbing layer and its damping. None with a ``wavelet`` (and a
        ``dt``): the peak of the wavelet's amplitude spectrum.
    t_max : float, s
        Recording length; samples are ``0, dt, ..., t_max``.
    dt : float, s, optional
        Recording interval. Defaults to a round interval suited to ``f0``.
    wavelet : ndarray (time,), optional
        A user wavelet sampled on the recording axis; defaults to a Ricker of ``f0``.
        Polarity: a positive sample is a positive pressure source, so the direct wave at a
        nearby receiver has the wavelet's sign. Deepwave's sources have the opposite sign:
        to re-model Deepwave data, pass minus the wavelet Deepwave was given.
    shot_labels : ndarray (shot,), optional
        Distinct labels of the shots, which :func:`~devito_crfwi.simulate` puts in its
        gathers' coord "shot"; default their indices ``0..n_shots-1``. Shots are selected
        by index (``shots=``, :meth:`shot_indices`), never by label; :meth:`subset` keeps
        the labels of the shots it keeps, :meth:`from_shots` takes the gathers'.
    """

    source_positions: np.ndarray
    receiver_positions: np.ndarray
    f0: float | None
    t_max: float
    dt: float | None = None
    wavelet: np.ndarray | None = field(default=None, repr=False)
    shot_labels: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        if self.f0 is None and (self.wavelet is None or self.dt is None):
            raise ValueError("f0 (Hz) is None: give it, or a wavelet with its dt (s), whose "
                             "spectrum's peak then stands for f0")
        f0 = None if self.f0 is None else _positive("f0 (Hz)", self.f0)
        t_max = _positive("t_max (s)", self.t_max)
        dt = default_recording_interval(f0) if self.dt is None else _positive("dt (s)", self.dt)
        if dt > t_max:
            raise ValueError(f"dt = {dt} s is longer than t_max = {t_max} s")
        src = np.array(self.source_positions, dtype=np.float64, ndmin=2)
        rec = np.array(self.receiver_positions, dtype=np.float64)
        if src.ndim != 2 or src.shape[1] not in (2, 3) or len(src) == 0:
            raise ValueError(
                "source_positions must have shape (shot, 2) with (x, z) or (shot, 3) with "
                f"(x, y, z) in m, got {src.shape}"
            )
        ndim = src.shape[1]
        if rec.ndim == 2:
            rec = np.broadcast_to(rec, (len(src), *rec.shape))
        if (rec.ndim != 3 or rec.shape[0] != len(src) or rec.shape[2] != ndim
                or rec.shape[1] == 0):
            raise ValueError(
                f"receiver_positions must have shape (receiver, {ndim}) or (shot, receiver, "
                f"{ndim}) with {len(src)} shots, got {np.shape(self.receiver_positions)}"
            )
        if not np.all(np.isfinite(src)):
            raise ValueError("source_positions contains NaN or Inf")
        gaps = np.isnan(rec).all(axis=-1)  # missing receivers
        if not np.all(np.isfinite(rec[~gaps])):
            raise ValueError("receiver_positions contains NaN or Inf (a missing receiver is NaN "
                             "in every coordinate)")
        if gaps.all(axis=1).any():
            raise ValueError(f"receiver_positions: shot {int(np.flatnonzero(gaps.all(axis=1))[0])}"
                             " has no receiver (all positions NaN); drop the shot")
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
        set_(self, "f0", peak_frequency(self.wavelet, dt) if f0 is None else f0)
        labels = (np.arange(self.n_shots) if self.shot_labels is None
                  else np.asarray(self.shot_labels))
        if labels.shape != (self.n_shots,) or len(set(labels.tolist())) != self.n_shots:
            raise ValueError(f"shot_labels must be {self.n_shots} distinct labels, one per shot, "
                             f"got shape {labels.shape}: {labels.ravel()[:6].tolist()}")
        set_(self, "shot_labels", labels)

    # -- sizes and axes ---------------------------------------------------------------
    @property
    def n_shots(self) -> int:
        return len(self.source_positions)

    @property
    def ndim(self) -> int:
        """2 for (x, z) positions, 3 for (x, y, z)."""
        return self.source_positions.shape[1]

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

    @cached_property
    def live_receivers(self) -> np.ndarray:
        """Bool (shot, receiver): the receivers each shot records on (False: missing, NaN
        position). Computed once (the survey is immutable)."""
        return ~np.isnan(self.receiver_positions).any(axis=-1)

    @property
    def fixed_spread(self) -> bool:
        """True when every shot records on the same receivers (missing ones included)."""
        rec = self.receiver_positions
        return bool(np.all((rec == rec[:1]) | (np.isnan(rec) & np.isnan(rec[:1]))))

    def source_wavelet(self, t: np.ndarray) -> np.ndarray:
        """The wavelet at regular times ``t`` from 0 (s): the Ricker, or the user wavelet
        band-limited interpolated (zero past ``t_max``)."""
        if self.wavelet is None:
            return ricker(self.f0, t)
        return sinc_resampling(self.time, t) @ self.wavelet

    def highest_frequency(self) -> float:
        """Hz above which the source spectrum stays below ~0.3% of its peak (3 f0 for a Ricker,
        see :mod:`.wavelet`)."""
        if self.wavelet is None:
            return RICKER_TOP_FACTOR * self.f0
        freqs, spectrum = amplitude_spectrum(self.wavelet, self.dt)
        top = np.nonzero(spectrum >= TOP_LEVEL * spectrum.max())[0][-1]
        return float(freqs[top])

    def shot_indices(self, shots: int | Sequence[int] | np.ndarray | None, *,
                     where: str | None = None) -> np.ndarray:
        """Checked shot indices, int64 (n,); all shots when ``shots`` is None.

        Indices are positions ``0..n_shots-1`` in this survey, not shot labels
        (:attr:`shot_labels`, the gathers' coord "shot").

        Every entry must be a Python or numpy integer in ``0..n_shots-1``: a bool, a float
        (even 1.0) or anything else is refused rather than truncated to a shot number.

        Raises
        ------
        TypeError
            An entry that is not an integer, naming it and its position.
        ValueError
            No entries, or an index out of range.
        """
        prefix = f"{where}: " if where else ""
        if shots is None:
            return np.arange(self.n_shots)
        # Object dtype keeps each entry's own type: np.asarray([1, True]) would give [1, 1].
        entries = np.asarray(shots, dtype=object).reshape(-1)
        if entries.size == 0:
            raise ValueError(f"{prefix}shots is empty: give shot indices, or None for all shots")
        for k, entry in enumerate(entries):
            if isinstance(entry, bool | np.bool_) or not isinstance(entry, int | np.integer):
                raise TypeError(f"{prefix}shots must be integer indices, got shots[{k}] = "
                                f"{entry!r} ({type(entry).__name__})")
        idx = entries.astype(np.int64)
        bad = np.flatnonzero((idx < 0) | (idx >= self.n_shots))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"{prefix}shots[{k}] = {idx[k]} is out of range 0..{self.n_shots - 1}"
                             f" (the survey has {self.n_shots} shots)")
        return idx

    def subset(self, shots: Sequence[int]) -> Survey:
        """The same survey restricted to the given shot indices (see :meth:`shot_indices`),
        with those shots' labels."""
        idx = self.shot_indices(shots, where="Survey.subset")
        return Survey(
            self.source_positions[idx],
            self.receiver_positions[idx],
            self.f0,
            self.t_max,
            self.dt,
            self.wavelet,
            self.shot_labels[idx],
        )

    def check_inside(self, extent: tuple[tuple[float, float], ...]) -> None:
        """Raise ``ValueError`` if a source or receiver lies outside ``extent``, the
        ((lo, hi), ...) per axis in m of :attr:`ModelGrid.extent` (of the survey's ndim)."""
        if len(extent) != self.ndim:
            raise ValueError(f"the survey's positions are {self.ndim}-D but the model is "
                             f"{len(extent)}-D")
        lo, hi = np.array(extent, dtype=np.float64).T  # (ndim,) each
        tol = 1e-6 * float(np.max(hi - lo))
        names = "xz" if self.ndim == 2 else "xyz"
        for name, pos in (
            ("source", self.source_positions[:, None, :]),
            ("receiver", self.receiver_positions),
        ):
            outside = ((pos < lo - tol) | (pos > hi + tol)).any(axis=-1)
            if outside.any():
                shot, i = np.argwhere(outside)[0]
                at = ", ".join(f"{d}={p:g} m" for d, p in zip(names, pos[shot, i], strict=True))
                box = ", ".join(f"{d} in [{a:g}, {b:g}] m"
                                for d, a, b in zip(names, lo, hi, strict=True))
                raise ValueError(
                    f"{name} of shot {shot} at ({at}) lies outside the model ({box}); "
                    f"{int(outside.sum())} position(s) are outside"
                )

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def surface(
        cls,
        vp,
        n_shots: int | tuple[int, int],
        n_receivers: int | tuple[int, int],
        f0: float | None,
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
        vp : xr.DataArray (x, z) or (x, y, z), m/s
            The model, for its extent (coords in m); checked with
            :func:`~devito_crfwi.io.schema.check_model`.
        n_shots, n_receivers : int >= 1, or (n_x, n_y) on a 3-D model
            Evenly spaced across the model width, snapped to grid nodes (so positions are
            exact multiples of the spacing: no interpolation, and SEG-Y headers store them
            exactly); shots keep one cell from the sides. No two may share a node: at
            most n - 2 shots (or 1) and n receivers along an axis of n nodes. On a 3-D
            model they form a regular areal grid (x outer, y inner): an int is the total,
            factorised as ``n_x * n_y`` with ``n_x / n_y`` nearest the model's aspect
            ratio (a prime total gives one line along the longer axis); a pair sets the
            counts along x and y.
        f0 : float or None, Hz
            Ricker peak frequency; None with a ``wavelet`` and ``dt``: the wavelet's
            (:class:`Survey`).
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
        across = [model.x] if model.y is None else [model.x, model.y]  # horizontal axes
        z, dz = model.z, model.spacing[-1]
        source_depth = 2 * dz if source_depth is None else _number("source_depth (m)",
                                                                    source_depth)
        receiver_depth = 2 * dz if receiver_depth is None else _number("receiver_depth (m)",
                                                                        receiver_depth)
        labels = "xy"[: len(across)]
        shots = [_surface_line("n_shots", axis, label, n, 1) for axis, label, n in
                 zip(across, labels, _areal_counts("n_shots", n_shots, across), strict=True)]
        spread = [_surface_line("n_receivers", axis, label, n, 0) for axis, label, n in
                  zip(across, labels, _areal_counts("n_receivers", n_receivers, across),
                      strict=True)]
        if all(len(line) == 1 for line in spread):
            spread = [line[:1] for line in shots]  # one receiver: at the first shot
        src, rec = (
            np.stack([*(g.ravel() for g in np.meshgrid(*lines, indexing="ij")),
                      np.full(int(np.prod([len(line) for line in lines])), z[0] + depth)], -1)
            for lines, depth in ((shots, source_depth), (spread, receiver_depth))
        )
        survey = cls(src, rec, f0, t_max, dt, wavelet)
        survey.check_inside(tuple((a[0], a[-1]) for a in (*across, z)))
        if wavelet is None:
            check_recording_interval(survey.dt, survey.f0)
        return survey

    @classmethod
    def from_shots(cls, observed, f0: float | None = None,
                   wavelet: np.ndarray | None = None) -> Survey:
        """The survey that recorded gathers ``observed`` (as :func:`~devito_crfwi.read_shots`
        returns them: (shot, time, receiver) with source/receiver coords in m, checked with
        :func:`~devito_crfwi.io.schema.check_shots`).

        Positions come from the coords, dt and t_max from the time axis (s), ``f0`` (Hz) from
        the argument or ``observed.attrs["f0"]``, else (with a wavelet) from the wavelet's
        spectrum (:class:`Survey`). The source is ``wavelet`` (time,) on the
        gathers' time axis when given, else the recorded ``observed.attrs["wavelet"]``
        (:func:`~devito_crfwi.read_shots` gives it from the file's wavelet stanza), else a
        Ricker of ``f0``. Gathers with coords ``source_y`` and ``receiver_y`` are of a 3-D
        survey. An ``f0`` or ``wavelet`` that contradicts the file's is refused: the
        modelled source must be the recorded one. Missing traces (all NaN, see
        :mod:`~devito_crfwi.io.traces`) give missing receivers (NaN positions), whatever
        their coords say.

        Shots are numbered by position: the survey's shot ``i`` (``shots=[i]`` in
        ``simulate``, :meth:`shot_indices`) is ``observed.isel(shot=i)``, whatever the
        gathers' shot labels (coord "shot"), which the survey keeps as its
        :attr:`shot_labels` so that ``simulate`` labels its gathers alike.
        """
        dt = check_shots(observed, "observed", where="Survey.from_shots")
        recorded = observed.attrs.get("f0")
        if f0 is not None:
            f0 = _positive("Survey.from_shots: f0 (Hz)", f0)
        if f0 is not None and recorded is not None and not np.isclose(f0, recorded, rtol=1e-3):
            raise ValueError(f"f0 = {f0:g} Hz contradicts the shot file's f0 = {recorded:g} Hz: "
                             "the modelled source must be the recorded one; leave f0 out (or "
                             "fix the file)")
        f0 = recorded if f0 is None else f0
        wavelet = _chosen_wavelet(observed, wavelet)
        if f0 is None and wavelet is None:
            raise ValueError("Survey.from_shots: the gathers state neither f0 (attrs['f0']) "
                             "nor a wavelet (attrs['wavelet']): give f0 in Hz (the Ricker's "
                             "peak), or the wavelet")
        time_axis = np.asarray(observed["time"], dtype=np.float64)
        axes = "xyz" if "source_y" in observed.coords else "xz"
        sources, receivers = (np.stack([np.asarray(observed[f"{kind}_{d}"]) for d in axes], -1)
                              for kind in ("source", "receiver"))
        missing = missing_traces(observed.values)
        if missing.any():
            receivers = np.broadcast_to(receivers, (*missing.shape, len(axes))).copy()
            receivers[missing] = np.nan
        return cls(sources, receivers, f0=None if f0 is None else float(f0),
                   t_max=float(time_axis[-1]), dt=dt, wavelet=wavelet,
                   shot_labels=np.asarray(observed["shot"].values))
