"""torch bridge: backward = adjoint-state gradient, jvp = Born, shot batches, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from devito_crfwi import WaveOperator
from tests.helpers import smooth_perturbation


@pytest.fixture(scope="module")
def op(layered, small_survey):
    # every step stored: the checks below compare with finite differences to 1e-4
    return WaveOperator(small_survey, layered, vmax=3000.0, boundary_width=20, subsample=1)


def ncc_loss(data: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """1 - normalised cross-correlation per trace: not an L2 misfit."""
    d = data / data.norm(dim=1, keepdim=True)
    o = observed / observed.norm(dim=1, keepdim=True)
    return (1 - (d * o).sum(dim=1)).sum()


def test_backward_matches_central_differences_of_a_non_l2_loss(op, layered):
    vp0 = torch.tensor(layered.values, dtype=torch.float64)
    with torch.no_grad():
        observed = op(torch.full_like(vp0, 2200.0)) + 1e-3
    vp = vp0.clone().requires_grad_(True)
    ncc_loss(op(vp), observed).backward()
    rng = np.random.default_rng(4)
    for _ in range(2):
        dvp = torch.tensor(smooth_perturbation(vp0.shape, rng, amplitude=30.0))
        eps = 0.05
        with torch.no_grad():
            plus = ncc_loss(op(vp0 + eps * dvp), observed)
            minus = ncc_loss(op(vp0 - eps * dvp), observed)
        fd = float(plus - minus) / (2 * eps)
        analytic = float((vp.grad * dvp).sum())
        assert analytic == pytest.approx(fd, rel=1e-5)  # measured 3.7e-7, 2.4e-10


def test_jvp_is_born_and_matches_finite_differences(op, layered):
    vp = torch.tensor(layered.values, dtype=torch.float64)
    dvp = torch.tensor(smooth_perturbation(vp.shape, np.random.default_rng(5)))
    data, tangent = torch.func.jvp(lambda v: op(v), (vp,), (dvp,))
    eps = 1e-2
    with torch.no_grad():
        fd = (op(vp + eps * dvp) - op(vp - eps * dvp)) / (2 * eps)
    assert torch.allclose(data, op(vp))
    assert float((tangent - fd).norm() / fd.norm()) < 1e-5  # measured 2.4e-7 (O(eps²))
    # forward-mode AD through a loss also runs Born
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        out = op(fwAD.make_dual(vp, dvp))
        assert torch.allclose(fwAD.unpack_dual(out).tangent, tangent)


def test_shot_subsets_and_dtypes(op, layered):
    vp32 = torch.tensor(layered.values, requires_grad=True)
    full = op(vp32)
    assert full.dtype == torch.float32 and full.shape == (2, op.survey.nt, 15)
    second = op(vp32, shots=[1])
    torch.testing.assert_close(second[0], full[1])
    (second**2).sum().backward()
    g32 = vp32.grad.clone()
    vp64 = torch.tensor(layered.values, dtype=torch.float64, requires_grad=True)
    (op(vp64, shots=[1]) ** 2).sum().backward()
    assert vp64.grad.dtype == torch.float64
    # float32 against float64: measured 4.0e-6
    assert float((g32.double() - vp64.grad).norm() / vp64.grad.norm()) < 1e-4


def test_gradient_equals_direct_engine_call(op, layered):
    """The bridge adds nothing: its gradient is the engine's L2 gradient."""
    vp0 = layered.values
    prop = op.propagator(np.float32)
    observed = prop.forward(np.full_like(vp0, 2200.0))
    loss_direct, grad_direct = prop.misfit_gradient(vp0, observed)
    vp = torch.tensor(vp0, requires_grad=True)
    loss = 0.5 * ((op(vp) - torch.from_numpy(observed)) ** 2).sum()
    loss.backward()
    # float32 residuals in torch, float64 ones in the engine: measured 2.4e-8 and 6.0e-7
    assert float(loss.detach()) == pytest.approx(loss_direct, rel=1e-5)
    assert float((vp.grad.double() - torch.from_numpy(grad_direct)).norm()
                 / np.linalg.norm(grad_direct)) < 1e-5


def test_bridge_errors(op, layered):
    with pytest.raises(ValueError, match="shape"):
        op(torch.ones(3, 3))
    with pytest.raises(TypeError, match="float32 or float64"):
        op(torch.ones(40, 30, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"shots\[0\] = 5 is out of range"):
        op(torch.tensor(layered.values), shots=[5])
    vp = torch.tensor(layered.values, requires_grad=True)
    out = op(vp).sum()
    out.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="tapes are freed"):
        out.backward()
