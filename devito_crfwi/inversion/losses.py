"""Data misfits of CR-FWI (torch only).

Data are tensors (shot, time, receiver). Every loss takes ``(pred, obs)`` and returns a scalar
tensor, differentiable with respect to ``pred``. Data with missing traces (variable
acquisition) go through :func:`live_traces` first, so a loss sees recorded traces only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["LOSSES", "envelope_loss", "huber_loss", "l1_loss", "l2_loss", "l2_tracenorm_loss",
           "live_traces", "ncc_loss", "wasserstein_loss"]


def live_traces(pred: torch.Tensor, obs: torch.Tensor, live: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The traces of ``pred`` and ``obs`` (shot, time, receiver) where ``live`` (shot,
    receiver) is True, as one gather (1, time, n_live); both unchanged when ``live`` is None.

    Every loss here sums or averages over traces, so its value on the result is its value
    on the recorded traces alone. The other traces are dropped before any arithmetic: NaN
    there (a missing observed trace) cannot reach the value or the gradient, which is zero
    at those traces of ``pred`` (unlike ``torch.where`` after the arithmetic, whose
    gradient is NaN where the discarded branch's is).
    """
    if live is None:
        return pred, obs
    live = live.to(pred.device)
    return tuple(x.movedim(1, -1)[live].T.unsqueeze(0) for x in (pred, obs))


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

    Insensitive to each trace's amplitude. This is the global correlation norm of Choi &
    Alkhalifah (2012): traces normalised one by one, their correlations summed. Data are
    (shot, time, receiver).
    """
    tiny = torch.finfo(pred.dtype).tiny
    p = pred / pred.norm(dim=1, keepdim=True).clamp_min(tiny)  # (shot, time, receiver)
    o = obs / obs.norm(dim=1, keepdim=True).clamp_min(tiny)
    return 1.0 - (p * o).sum(dim=1).mean()


def huber_loss(pred: torch.Tensor, obs: torch.Tensor, delta: float = 0.1) -> torch.Tensor:
    """Relative Huber misfit ``sum h(pred - obs) / sum h(obs)`` (dimensionless).

    ``h(r) = r²/2`` for ``|r| <= δ`` and ``δ (|r| - δ/2)`` beyond, with ``δ = delta ×`` the
    RMS of ``obs``: quadratic for the bulk of the residual, linear for outliers (spikes,
    bursts of noise), so they pull the model less than under L2.
    """
    threshold = float(delta) * float(obs.square().mean().sqrt())
    threshold = max(threshold, torch.finfo(obs.dtype).tiny)
    h = torch.nn.functional.huber_loss
    return (h(pred, obs, reduction="sum", delta=threshold)
            / h(obs, torch.zeros_like(obs), reduction="sum", delta=threshold)
            .clamp_min(torch.finfo(obs.dtype).tiny))


def envelope(x: torch.Tensor) -> torch.Tensor:
    """Squared envelope ``x² + H(x)²`` of traces along time (dim 1), ``H`` the Hilbert
    transform (the analytic signal's imaginary part, by FFT). Squared so that it is smooth
    where the envelope vanishes."""
    n = x.shape[1]
    spectrum = torch.fft.fft(x, dim=1)
    weights = torch.zeros(n, dtype=x.dtype, device=x.device)
    weights[0] = 1.0
    weights[1:(n + 1) // 2] = 2.0
    if n % 2 == 0:
        weights[n // 2] = 1.0
    analytic = torch.fft.ifft(spectrum * weights.reshape(1, n, *([1] * (x.dim() - 2))), dim=1)
    return analytic.real.square() + analytic.imag.square()


def envelope_loss(pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """:func:`l2_loss` of the squared envelopes (:func:`envelope`; Wu, Luo & Wu 2014).

    The envelope keeps the low-frequency trend of the data when the low frequencies
    themselves are missing or noisy, and is blind to the phase: a start for models far
    from the truth, or for data with an uncertain wavelet. Data are (shot, time, receiver).
    """
    return l2_loss(envelope(pred), envelope(obs))


def wasserstein_loss(pred: torch.Tensor, obs: torch.Tensor, scale: float = 0.05
                     ) -> torch.Tensor:
    """Mean over traces of the squared 1-D Wasserstein distance W₂² between each trace
    made a probability density along time (in samples²; Yang et al. 2018).

    Signed traces are made positive by ``softplus(x / s)`` with ``s = scale ×`` the peak
    ``|obs|`` of the trace (the same ``s`` for ``pred`` and ``obs``), then divided by their
    sum. Dividing the signed trace by its sum instead (a known bug of ADFWI's W2 misfit)
    gives negative "densities" and sums near zero. With each CDF linear between samples,
    W₂² = ∫₀¹ |F⁻¹(u) - G⁻¹(u)|² du (``F`` of pred, ``G`` of obs) is integrated exactly:
    both inverses are linear between the union of the two CDFs' knots.
    """
    peak = obs.abs().amax(dim=1, keepdim=True)
    s = scale * torch.where(peak > 0, peak, torch.ones_like(peak))
    cdf_p, cdf_o = (_cdf(torch.nn.functional.softplus(x / s)) for x in (pred, obs))
    u, _ = torch.sort(torch.cat([cdf_p, cdf_o], dim=-1), dim=-1)  # (shot, receiver, knots)
    diff = _inverse(cdf_p, u) - _inverse(cdf_o, u)
    a, b, du = diff[..., :-1], diff[..., 1:], u[..., 1:] - u[..., :-1]
    return (du * (a.square() + a * b + b.square()) / 3).sum(dim=-1).mean()


def _cdf(density: torch.Tensor) -> torch.Tensor:
    """CDF knots (shot, receiver, time + 1) of ``density`` (shot, time, receiver; > 0): 0
    before the first sample, then after each sample, the last 1."""
    cdf = torch.cumsum(density.movedim(1, -1), dim=-1)
    cdf = cdf / cdf[..., -1:]
    return torch.cat([torch.zeros_like(cdf[..., :1]), cdf], dim=-1)


def _inverse(cdf: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The inverse of the piecewise-linear CDF with knots ``cdf`` (at samples -1 .. nt-1)
    at probabilities ``u`` (same leading dims), in samples."""
    n = cdf.shape[-1] - 1
    right = torch.searchsorted(cdf.detach().contiguous(), u.detach().contiguous()).clamp(1, n)
    lo, hi = cdf.gather(-1, right - 1), cdf.gather(-1, right)
    return (right - 2).to(cdf.dtype) + (u - lo) / (hi - lo)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l2": l2_loss,
    "l2_tracenorm": l2_tracenorm_loss,
    "l1": l1_loss,
    "ncc": ncc_loss,
    "huber": huber_loss,
    "envelope": envelope_loss,
    "wasserstein": wasserstein_loss,
}
"""Name -> loss(pred, obs) on data (shot, time, receiver)."""
