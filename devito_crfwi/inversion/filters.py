"""Zero-phase Butterworth filters along time, differentiable (torch only).

The frequency schedule of :class:`~devito_crfwi.inversion.CRFWIProblem` low-passes observed and
modelled data alike; the paper's "no low frequencies" scenario high-passes them. Both are one
filter with a ``kind``.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["BUTTERWORTH_ORDER", "butterworth"]

BUTTERWORTH_ORDER = 4
"""Default order; applied zero-phase, so the gain is |H|² (as forward-backward filtering)."""


def butterworth(data: torch.Tensor, cutoff: float, dt: float, *,
                kind: Literal["lowpass", "highpass"] = "lowpass",
                order: int = BUTTERWORTH_ORDER, dim: int = 1) -> torch.Tensor:
    """Zero-phase Butterworth low- or high-pass along time, differentiable.

    Parameters
    ----------
    data : Tensor (shot, time, receiver)
        Gathers (any shape with time along ``dim``).
    cutoff : float, Hz
        -6 dB frequency. Low-pass gain ``1 / (1 + (f / cutoff)^(2 order))``; high-pass gain
        ``1 / (1 + (cutoff / f)^(2 order))``, 0 at 0 Hz.
    dt : float, s
        Sampling interval.
    kind : {"lowpass", "highpass"}
    order : int
        Butterworth order.
    dim : int
        Time dimension.

    Returns
    -------
    Tensor, same shape and dtype as ``data``
        Filtered in the FFT domain with zero padding to twice the length (no wrap-around).
    """
    n = data.shape[dim]
    nfft = 2 * n
    freq = torch.fft.rfftfreq(nfft, d=dt, dtype=torch.float64)
    if kind == "lowpass":
        gain = 1.0 / (1.0 + (freq / cutoff) ** (2 * order))
    elif kind == "highpass":
        gain = torch.zeros_like(freq)
        gain[1:] = 1.0 / (1.0 + (cutoff / freq[1:]) ** (2 * order))
    else:
        raise ValueError(f"kind must be 'lowpass' or 'highpass', got {kind!r}")
    shape = [1] * data.ndim
    shape[dim] = gain.numel()
    spectrum = torch.fft.rfft(data, n=nfft, dim=dim) * gain.to(data.dtype).reshape(shape)
    return torch.fft.irfft(spectrum, n=nfft, dim=dim).narrow(dim, 0, n)
