"""Data misfits of CR-FWI (torch only).

Data are tensors (shot, time, receiver). Every loss takes ``(pred, obs)`` and returns a scalar
tensor, differentiable with respect to ``pred``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["LOSSES", "l1_loss", "l2_loss", "l2_tracenorm_loss", "ncc_loss"]


# -- losses -------------------------------------------------------------------------------
def _energy(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum().clamp_min(torch.finfo(x.dtype).tiny)


def l2_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Relative squared misfit ``||pred - obs||² / ||obs||²`` (dimensionless)."""
    return (pred - obs).square().sum() / _energy(obs)


def l2_tracenorm_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """:func:`l2_loss` of the traces each divided by its own peak ``max_t |trace|``.

    The default of ADFWI's ``AcousticFWI`` (``waveform_normalize=True``): every trace counts
    alike whatever its amplitude, so far offsets weigh as much as the near ones. Data are
    (shot, time, receiver); an all-zero trace stays zero.
    """
    return l2_loss(_unit_peak(pred), _unit_peak(obs))


def _unit_peak(x: torch.Tensor) -> torch.Tensor:
    peak = x.abs().amax(dim=1, keepdim=True)  # (shot, 1, receiver)
    return x / torch.where(peak > 0, peak, torch.ones_like(peak))


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
    "l2_tracenorm": l2_tracenorm_loss,
    "l1": l1_loss,
    "ncc": ncc_loss,
}
"""Name -> loss(pred, obs) on data (shot, time, receiver)."""
