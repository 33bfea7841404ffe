"""The Ricker wavelet and where its band ends.

The Ricker's amplitude spectrum is ``(f/f0)² exp(1 - (f/f0)²)`` of its peak: ~3% at 2.5 f0
and ~0.3% at 3 f0. The package reads its band at those two levels, here and nowhere else:

* ``RICKER_RESOLVED_FACTOR`` (2.5 f0): the band a grid and a recording must resolve. The
  grid-dispersion warning asks for points per wavelength there and the recording-interval
  warning for a Nyquist frequency above it: the content beyond is too weak to matter in
  the data.
* ``RICKER_TOP_FACTOR`` (3 f0): the band's top for the gradient's wavefield storage (and,
  at the same spectral level, a user wavelet's top). The imaging condition multiplies two
  fields, so content the data would not miss still folds into the gradient at the storage
  rate: the stricter level (measurements at ``storage.STORAGE_NYQUIST_MARGIN``).

A single factor for both would change the package's behaviour: 2.5 f0 stores fewer
levels (other gradients), 3 f0 warns on grids and intervals that model well (15 m at 8 Hz
from 1500 m/s, the benchmarks' set-up, would then warn).
"""

from __future__ import annotations

import numpy as np

RICKER_RESOLVED_FACTOR = 2.5
RICKER_TOP_FACTOR = 3.0
# A spectrum's top is where it falls to this fraction of its peak, as the Ricker's at 3 f0.
TOP_LEVEL = RICKER_TOP_FACTOR**2 * np.exp(1.0 - RICKER_TOP_FACTOR**2)


def ricker(f0: float, t: np.ndarray, t0: float | None = None) -> np.ndarray:
    """Ricker wavelet of peak frequency ``f0`` (Hz) at times ``t`` (s), peaked at ``t0``.

    ``t0`` defaults to ``1 / f0`` so the wavelet starts near zero at ``t = 0``.
    """
    t0 = 1.0 / f0 if t0 is None else t0
    arg = (np.pi * f0 * (t - t0)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)


def amplitude_spectrum(wavelet: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, |FFT|) of ``wavelet`` (time,) sampled every ``dt`` s, zero-padded
    to 8 times its length (bins 1/8 of the record's resolution)."""
    n = 8 * len(wavelet)
    return (np.fft.rfftfreq(n, dt),
            np.abs(np.fft.rfft(np.asarray(wavelet, dtype=np.float64), n)))


def peak_frequency(wavelet: np.ndarray, dt: float) -> float:
    """Frequency (Hz) of the amplitude spectrum's peak of ``wavelet`` (time,) sampled every
    ``dt`` s: the largest bin of :func:`amplitude_spectrum`, refined by a golden-section
    search of the spectrum between its neighbours (a sampled Ricker's comes out at its f0 to
    ~0.01%).

    Raises ``ValueError`` when the peak is at 0 Hz (an all-zero or DC-dominated wavelet).
    """
    samples = np.asarray(wavelet, dtype=np.float64)
    freqs, spectrum = amplitude_spectrum(samples, dt)
    top = int(np.argmax(spectrum))
    if top == 0:
        raise ValueError("the wavelet's amplitude spectrum peaks at 0 Hz (all zero, or mostly "
                         "a constant offset): give f0 in Hz")
    phase = -2j * np.pi * np.arange(samples.size) * dt

    def amplitude(f: float) -> float:
        return float(np.abs(np.exp(phase * f) @ samples))

    # Golden-section search: each step keeps one inner point and evaluates one new one.
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    lo, hi = freqs[top - 1], freqs[min(top + 1, freqs.size - 1)]
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = amplitude(a), amplitude(b)
    for _ in range(40):  # the bracket shrinks to 0.618^40 ~ 1e-8 of two bins
        if fa > fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = amplitude(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = amplitude(b)
    return float((lo + hi) / 2.0)
