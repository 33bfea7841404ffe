"""The data misfits against independent numpy/scipy references, their gradients against
finite differences (``torch.autograd.gradcheck``), and what each is blind or robust to."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import hilbert

from devito_crfwi.inversion.losses import (
    LOSSES,
    envelope_loss,
    huber_loss,
    wasserstein_loss,
)


def ricker(nt: int, peak: float, f: float = 0.08) -> np.ndarray:
    """A Ricker wavelet on samples 0..nt-1 peaked at sample ``peak`` (f in cycles/sample)."""
    a = (np.pi * f * (np.arange(nt) - peak)) ** 2
    return (1 - 2 * a) * np.exp(-a)


@pytest.fixture
def gathers():
    """(pred, obs): 2 shots x 64 samples x 3 receivers, float64, noisy Rickers."""
    rng = np.random.default_rng(0)
    obs = np.stack([np.stack([ricker(64, 20 + 5 * r + 3 * s) for r in range(3)], axis=1)
                    for s in range(2)])
    pred = 0.8 * np.roll(obs, 2, axis=1) + 0.05 * rng.standard_normal(obs.shape)
    return pred, obs


def huber_reference(pred, obs, delta):
    threshold = delta * np.sqrt(np.mean(obs ** 2))

    def h(r):
        return np.where(np.abs(r) <= threshold, 0.5 * r ** 2,
                        threshold * (np.abs(r) - 0.5 * threshold))
    return h(pred - obs).sum() / h(obs).sum()


def envelope_reference(pred, obs):
    env = [np.abs(hilbert(x, axis=1)) ** 2 for x in (pred, obs)]
    return ((env[0] - env[1]) ** 2).sum() / (env[1] ** 2).sum()


def wasserstein_reference(pred, obs, scale, n_u=200_000):
    """W2² per trace from the quantile functions on a fine probability grid, averaged."""
    u = (np.arange(n_u) + 0.5) / n_u
    values = []
    for s in range(obs.shape[0]):
        for r in range(obs.shape[2]):
            width = scale * np.abs(obs[s, :, r]).max()
            quantiles = []
            for trace in (pred[s, :, r], obs[s, :, r]):
                density = np.logaddexp(0.0, trace / width)  # softplus
                cdf = np.concatenate([[0.0], np.cumsum(density) / density.sum()])
                quantiles.append(np.interp(u, cdf, np.arange(-1, len(trace))))
            values.append(np.mean((quantiles[0] - quantiles[1]) ** 2))
    return np.mean(values)


def test_against_numpy_references(gathers):
    pred, obs = gathers
    tp, to = torch.from_numpy(pred), torch.from_numpy(obs)
    assert float(huber_loss(tp, to, delta=0.3)) == pytest.approx(
        huber_reference(pred, obs, 0.3), rel=1e-12)
    assert float(envelope_loss(tp, to)) == pytest.approx(envelope_reference(pred, obs),
                                                         rel=1e-10)
    # Exact integral against a midpoint rule on 200 000 probabilities.
    assert float(wasserstein_loss(tp, to, scale=0.1)) == pytest.approx(
        wasserstein_reference(pred, obs, 0.1), rel=1e-8)


@pytest.mark.parametrize("name", ["huber", "envelope", "wasserstein"])
def test_gradcheck(name):
    rng = np.random.default_rng(1)
    obs = torch.from_numpy(rng.standard_normal((1, 12, 2)))
    pred = torch.from_numpy(rng.standard_normal((1, 12, 2))).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: LOSSES[name](p, obs), (pred,), eps=1e-6,
                                    atol=1e-8, rtol=1e-5)


def test_what_each_misfit_sees(gathers):
    _, obs = gathers
    to = torch.from_numpy(obs)
    for name in ("huber", "envelope", "wasserstein"):
        assert float(LOSSES[name](to, to)) == pytest.approx(0.0, abs=1e-12), name
    # Envelope: blind to a phase rotation (the Hilbert pair has the same envelope).
    rotated = torch.from_numpy(np.imag(hilbert(obs, axis=1)))
    assert float(envelope_loss(rotated, to)) < 1e-3 < float(LOSSES["l2"](rotated, to))
    # W2 grows with the time shift (convex in it: no cycle skipping), L2 saturates.
    shifts = [2, 4, 8, 12]
    w2 = [float(wasserstein_loss(torch.roll(to, k, dims=1), to)) for k in shifts]
    assert all(b > a for a, b in zip(w2, w2[1:], strict=False)), w2
    # Huber: a spike costs it linearly, L2 quadratically.
    spiky = to.clone()
    spiky[0, 30, 1] += 50.0
    assert float(huber_loss(spiky, to)) < 0.1 * float(LOSSES["l2"](spiky, to))
