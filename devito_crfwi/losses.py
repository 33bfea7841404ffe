"""Data misfits of CR-FWI and the zero-phase low-pass of its frequency schedule (torch only).

Data are tensors (shot, time, receiver). Every loss takes ``(pred, obs)`` and returns a scalar
tensor, differentiable with respect to ``pred``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["LOSSES", "l1_loss", "l2_loss", "lowpass", "ncc_loss"]

# Order of the Butterworth low-pass; applied zero-phase (|H|², as forward-backward filtering).
LOWPASS_ORDER = 4


# -- losses -------------------------------------------------------------------------------
def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum().clamp_min(torch.finfo(x.dtype).tiny)


def l2_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Relative squared misfit ``||pred - obs||² / ||obs||²`` (dimensionless)."""
    return (pred - obs).square().sum() / _energy(obs)


def l1_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Relative absolute misfit ``sum|pred - obs| / sum|obs|`` (dimensionless)."""
    return (pred - obs).abs().sum() / obs.abs().sum().clamp_min(torch.finfo(obs.dtype).tiny)


def ncc_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """``1 - `` mean over traces of the normalised zero-lag cross-correlation, in [0, 2].

    Insensitive to each trace's amplitude. Data are (shot, time, receiver).
    """
    tiny = torch.finfo(pred.dtype).tiny
    p = pred / pred.norm(dim=1, keepdim=True).clamp_min(tiny)  # (shot, time, receiver)
    o = obs / obs.norm(dim=1, keepdim=True).clamp_min(tiny)
    return 1.0 - (p * o).sum(dim=1).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l2": l2_loss,
    "l1": l1_loss,
    "ncc": ncc_loss,
}
"""Name -> loss(pred, obs) on data (shot, time, receiver)."""

def lowpass(data: torch.Tensor, cutoff: float, dt: float, *, order: int = LOWPASS_ORDER,
            dim: int = 1) -> torch.Tensor:
    """Zero-phase Butterworth low-pass along time, differentiable.

    Parameters
    ----------
    data : Tensor (shot, time, receiver)
        Gathers (any shape with time along ``dim``).
    cutoff : float, Hz
        -6 dB frequency (the gain is ``1 / (1 + (f / cutoff)^(2 order))``, the magnitude of a
        Butterworth filter applied forward and backward).
    dt : float, s
        Sampling interval.
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
    gain = (1.0 / (1.0 + (freq / cutoff) ** (2 * order))).to(data.dtype)
    shape = [1] * data.ndim
    shape[dim] = gain.numel()
    spectrum = torch.fft.rfft(data, n=nfft, dim=dim) * gain.reshape(shape)
    return torch.fft.irfft(spectrum, n=nfft, dim=dim).narrow(dim, 0, n)
