"""Dot-product tests of the default ``WaveOperator`` and the NTK's Jacobian with white
cotangents (issue 26): ``torch.func.jvp`` (Born) against the backward pass, float64.

A white cotangent is the hardest case for a subsampled tape: its adjoint field holds every
frequency, which the imaging condition aliases. Measured with the subsampled tape alone
(the default before): relative dot-product gap 4.5e-2 in 2-D (8 Hz, factor 5) and 0.69 in
3-D (24³ at 20 m, 8 Hz, factor 3, 2 shots, 0.4 s; 0.32 on the test's 24 x 20 x 16 cube, 1
shot, 0.3 s); the default now stores every step where the tapes fit, and records such
shots again with every step stored where they do not (``op2d_rerecord``: a memory limit
that holds one shot's exact tape but not the call's two); the gap is round-off (~1e-15).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import jvp, vjp, vmap

from devito_crfwi import Survey, WaveOperator
from devito_crfwi.ntk import TangentKernel
from devito_crfwi.physics import ricker
from tests.helpers import smooth_perturbation

# Relative dot-product gaps, float64: measured 2.8e-15 (2-D), 3.7e-16 (3-D), 1.1e-15 (J Jᵀ
# symmetry) and, for the NTK's Jacobian, 1.2e-13 (its sum cancels more).
DOT_TOLERANCE = 1e-13
JACOBIAN_DOT_TOLERANCE = 1e-11


def gap(lhs: float, rhs: float) -> float:
    return abs(lhs - rhs) / max(abs(lhs), abs(rhs))


def dot_products(op: WaveOperator, vp: torch.Tensor, seed: int) -> tuple[float, float, float]:
    """<J dvp, w> by ``torch.func.jvp``; <dvp, Jᵀ w> by ``torch.func.vjp`` and by
    ``backward()``; dvp smooth (m/s), w white."""
    rng = np.random.default_rng(seed)
    dvp = torch.from_numpy(np.stack([smooth_perturbation(vp.shape[1:], rng)
                                     for _ in range(vp.shape[0])]) if vp.ndim == 3
                           else smooth_perturbation(vp.shape, rng))
    data, born = jvp(op, (vp,), (dvp,))
    white = torch.from_numpy(rng.standard_normal(data.shape))
    (adjoint,) = vjp(op, vp)[1](white)
    leaf = vp.clone().requires_grad_(True)
    (op(leaf) * white).sum().backward()
    return (float((born * white).sum()), float((dvp * adjoint).sum()),
            float((dvp * leaf.grad).sum()))


@pytest.fixture(scope="module")
def op2d(layered):
    survey = Survey.surface(layered, n_shots=2, n_receivers=15, f0=8.0, t_max=0.5)
    return WaveOperator(survey, layered, vmax=3000.0, boundary_width=20)


@pytest.fixture(scope="module")
def op2d_rerecord(op2d, layered):
    """``op2d`` keeping subsampled tapes for its two shots (re-recorded where aliased)."""
    one_shot = op2d.propagator(np.float64).exact().memory_plan(1).bytes_per_call
    return WaveOperator(op2d.survey, layered, vmax=3000.0, boundary_width=20,
                        memory_limit=3 * one_shot // 2)


@pytest.mark.parametrize("path", ["full-tape", "re-record"])
def test_white_cotangent_dot_product_2d(op2d, op2d_rerecord, layered, path):
    op = op2d if path == "full-tape" else op2d_rerecord
    prop = op.propagator(np.float64)
    assert prop.subsample == 5  # where the tapes do not fit, the default keeps every 5th step
    assert (prop.tape_engine(2) is prop) == (path == "re-record")
    recordings = prop.exact_recordings
    lhs, rhs_vjp, rhs_backward = dot_products(
        op, torch.tensor(layered.values, dtype=torch.float64), seed=0)
    # the vjp and the backward: each shot recorded again by each, or by neither
    assert prop.exact_recordings - recordings == (0 if path == "full-tape"
                                                  else 2 * op.survey.n_shots)
    assert gap(lhs, rhs_vjp) <= DOT_TOLERANCE, (lhs, rhs_vjp)
    assert gap(lhs, rhs_backward) <= DOT_TOLERANCE, (lhs, rhs_backward)


def test_white_cotangent_dot_product_3d(model3d):
    """On the 3-D engine tests' model and C-PML width (their kernels are reused)."""
    survey = Survey.surface(model3d, 1, (4, 3), f0=8.0, t_max=0.3)
    op = WaveOperator(survey, model3d, vmax=2800.0, boundary_width=10)
    assert op.propagator(np.float64).subsample == 3
    vp = torch.tensor(model3d.values, dtype=torch.float64)
    lhs, rhs_vjp, rhs_backward = dot_products(op, vp, seed=1)
    assert gap(lhs, rhs_vjp) <= DOT_TOLERANCE, (lhs, rhs_vjp)
    assert gap(lhs, rhs_backward) <= DOT_TOLERANCE, (lhs, rhs_backward)


def test_vmap_of_vjp_mixes_white_and_band_limited_cotangents(op2d_rerecord, layered):
    """One batched adjoint call: a white cotangent and a band-limited one that fades before
    t_max (subsampled tape) equal their single ``vjp`` calls."""
    op2d = op2d_rerecord
    vp = torch.tensor(layered.values, dtype=torch.float64)
    survey = op2d.survey
    rng = np.random.default_rng(2)
    pulse = ricker(survey.f0, survey.time, t0=0.5 * survey.t_max)[None, :, None]
    cotangents = torch.from_numpy(np.stack([
        rng.standard_normal((survey.n_shots, survey.nt, survey.n_receivers)),
        rng.standard_normal((survey.n_shots, 1, survey.n_receivers)) * pulse,
    ]))
    _, pullback = vjp(op2d, vp)
    (batched,) = vmap(pullback)(cotangents)
    for b in range(2):
        (single,) = vjp(op2d, vp)[1](cotangents[b])
        # measured 0: the batch is the single calls, bit for bit
        assert float((batched[b] - single).norm() / single.norm()) <= 1e-14


def test_ntk_jacobian_products_with_white_vectors(op2d, layered):
    """The NTK's Born/adjoint pair (``ModelJacobian``): <J x, w> = <x, Jᵀ w> for white w,
    and the data-space wave kernel J Jᵀ is symmetric."""
    kernel = TangentKernel(op2d, layered)
    jac = kernel.jacobian
    rng = np.random.default_rng(3)
    x = smooth_perturbation(layered.shape, rng).reshape(-1)
    w, w2 = rng.standard_normal((2, jac.n_data))
    assert gap(float(jac.matvec(x) @ w), float(x @ jac.rmatvec(w))) <= JACOBIAN_DOT_TOLERANCE
    theta = kernel.operator("data")
    assert gap(float(w2 @ theta.matvec(w)), float(theta.matvec(w2) @ w)) <= DOT_TOLERANCE
