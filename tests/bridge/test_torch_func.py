"""torch.func through the bridge: jacfwd, jacrev, vmap of jvp/vjp, NTKs, devices.

References are independent of the batched (vmap) path: loops of single ``torch.func.jvp``
/ ``vjp`` calls, the package's matrix-free NTK products and central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacfwd, jacrev, jvp, vjp, vmap

from devito_crfwi import Survey, WaveOperator
from devito_crfwi.bridge import autograd as bridge_autograd
from devito_crfwi.ntk import TangentKernel
from devito_crfwi.representations import make_representation
from tests.helpers import model_dataarray, smooth_perturbation

NX, NZ = 20, 16
# float64 products by two routes (batched and looped, jvp and vjp, dense and matrix-free):
# measured 0 (the same kernels, bit for bit) to 4.4e-15; they agree to round-off.
ROUNDOFF = 1e-13


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def model():
    """A 20 x 16 model at 10 m (m/s): two layers and a lens."""
    x, z = np.meshgrid(np.arange(NX), np.arange(NZ), indexing="ij")
    vp = np.where(z < 7, 2000.0, 2300.0) + 150.0 * np.exp(-((x - 10) ** 2 + (z - 10) ** 2) / 10)
    return model_dataarray(vp, 10.0)


@pytest.fixture(scope="module")
def op(model):
    survey = Survey.surface(model, n_shots=2, n_receivers=4, f0=15.0, t_max=0.12, dt=0.004)
    # Every step stored: jacrev must be the exact adjoint of the jvp columns.
    return WaveOperator(survey, model, vmax=3000.0, boundary_width=10, subsample=1)


@pytest.fixture(scope="module")
def vp0(model):
    return torch.tensor(model.values, dtype=torch.float64)


def flat(op):
    return lambda v: op(v).reshape(-1)


@pytest.fixture(scope="module")
def jacobian_columns(op, vp0):
    """J (data, x, z) from one ``torch.func.jvp`` per model cell."""
    eye = torch.eye(NX * NZ, dtype=torch.float64).reshape(-1, NX, NZ)
    columns = [jvp(flat(op), (vp0,), (e,))[1] for e in eye]
    return torch.stack(columns, dim=-1).reshape(-1, NX, NZ)


class CallCounter:
    """Counts one executor method's calls and the shapes of its batched argument."""

    ARGUMENT = {"born": 1, "jacobian_adjoint": 2}  # dvp, adjoint_source

    def __init__(self, monkeypatch, executor, name: str) -> None:
        self.shapes: list[tuple] = []
        method = getattr(executor, name)

        def counted(*args):
            self.shapes.append(np.shape(args[self.ARGUMENT[name]]))
            return method(*args)

        monkeypatch.setattr(executor, name, counted)


def test_jacfwd_is_one_batched_born_call_equal_to_jvp_columns(op, vp0, jacobian_columns,
                                                               monkeypatch):
    calls = CallCounter(monkeypatch, op.executor(np.float64), "born")
    jac = jacfwd(flat(op))(vp0)
    assert jac.shape == jacobian_columns.shape and jac.dtype == torch.float64
    assert rel(jac, jacobian_columns) <= ROUNDOFF
    assert calls.shapes == [(NX * NZ, NX, NZ)]  # every tangent in one executor call


def test_jacrev_is_one_batched_adjoint_call_equal_to_vjp_rows(op, vp0, jacobian_columns,
                                                               monkeypatch):
    calls = CallCounter(monkeypatch, op.executor(np.float64), "jacobian_adjoint")
    jac = jacrev(flat(op))(vp0)
    assert len(calls.shapes) == 1 and calls.shapes[0][0] == len(jac)
    # J from adjoints equals J from Born (jvp) to round-off: the engine's adjoints are exact
    assert rel(jac, jacobian_columns) <= ROUNDOFF
    live = np.flatnonzero(jacobian_columns.reshape(len(jac), -1).norm(dim=1) > 0)
    rows = np.random.default_rng(0).choice(live, size=6, replace=False)
    for row in rows:  # each row from its own vjp (a fresh forward and one adjoint)
        out, pullback = vjp(flat(op), vp0)
        cotangent = torch.zeros_like(out)
        cotangent[row] = 1.0
        (reference,) = pullback(cotangent)
        assert rel(jac[row], reference) <= ROUNDOFF


def test_autograd_functional_jacobian_vectorized_equals_the_loop(op, vp0, jacobian_columns):
    for strategy in ("reverse-mode", "forward-mode"):
        jac = torch.autograd.functional.jacobian(flat(op), vp0, vectorize=True,
                                                 strategy=strategy)
        assert rel(jac, jacobian_columns) <= ROUNDOFF, strategy


def test_vmap_of_jvp_and_vjp_equal_single_calls(op, vp0):
    rng = np.random.default_rng(1)
    tangents = torch.stack([torch.tensor(smooth_perturbation((NX, NZ), rng)) for _ in range(3)])
    batched = vmap(lambda t: jvp(op, (vp0,), (t,))[1])(tangents)
    for t, b in zip(tangents, batched, strict=True):
        assert rel(b, jvp(op, (vp0,), (t,))[1]) <= ROUNDOFF
    out, pullback = vjp(op, vp0)
    cotangents = torch.tensor(rng.standard_normal((3, *out.shape)))
    (grads,) = vmap(pullback)(cotangents)
    for c, g in zip(cotangents, grads, strict=True):
        assert rel(g, vjp(op, vp0)[1](c)[0]) <= ROUNDOFF


def test_vmap_over_models_loops_forward_and_gradient(op, vp0):
    models = torch.stack([vp0, 0.98 * vp0, 1.02 * vp0])
    data = vmap(op)(models)
    grads = vmap(torch.func.grad(lambda v: 0.5 * (op(v) ** 2).sum()))(models)
    for m, d, g in zip(models, data, grads, strict=True):
        v = m.clone().requires_grad_(True)
        out = op(v)
        (0.5 * (out**2).sum()).backward()
        assert torch.equal(d, out.detach())
        assert rel(g, v.grad) <= ROUNDOFF


def test_per_shot_gradients_with_vmap_equal_separate_backward_calls(op, vp0, monkeypatch):
    observed = op(0.97 * vp0)
    out, pullback = vjp(op, vp0)
    residual = out - observed
    n_shots = len(out)
    # cotangent of shot s's loss 0.5 ||d_s - o_s||²: its residual in row s, zero elsewhere
    cotangents = torch.eye(n_shots, dtype=vp0.dtype)[:, :, None, None] * residual
    calls = CallCounter(monkeypatch, op.executor(np.float64), "jacobian_adjoint")
    (per_shot,) = vmap(pullback)(cotangents)
    assert calls.shapes == [(n_shots, n_shots, *out.shape[1:])]  # one call for all shots
    for shot in range(n_shots):
        v = vp0.clone().requires_grad_(True)
        (0.5 * ((op(v, shots=[shot]) - observed[shot]) ** 2).sum()).backward()
        assert rel(per_shot[shot], v.grad) <= ROUNDOFF


def small_siren(model, seed: int) -> torch.nn.Module:
    """A float64 SIREN with 8 hidden features: perturbations up to ~700 m/s, below vmax."""
    return make_representation("inr", model.values, vmin=1500.0, vmax=3000.0, seed=seed,
                               hidden_features=8, hidden_layers=1, out_scale=2.0,
                               dtype=torch.float64)


@pytest.fixture(scope="module")
def representation(model):
    return small_siren(model, seed=3).requires_grad_(False)


def test_ntk_with_torch_func_equals_the_package_kernel(op, representation):
    params = {k: p.detach() for k, p in representation.named_parameters()}

    def data_of(theta: dict) -> torch.Tensor:
        return op(functional_call(representation, theta, ())).reshape(-1)

    jac = jacrev(data_of)(params)  # J_theta: {name: (data, *param shape)}
    j_theta = torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)
    ntk = j_theta @ j_theta.T  # dense (data, data)
    with torch.no_grad():
        vp = representation()
    kernel = TangentKernel(op, vp, representation)
    rng = np.random.default_rng(2)
    r = rng.standard_normal((2, ntk.shape[0]))
    for probe in r:
        reference = torch.from_numpy(kernel.data_product(probe))
        assert rel(ntk @ torch.from_numpy(probe), reference) <= ROUNDOFF
    # the same products matrix-free: vmap of (jvp after vjp) over the probes
    _, pullback = vjp(data_of, params)

    def ntk_product(v: torch.Tensor) -> torch.Tensor:
        (theta,) = pullback(v)
        return jvp(data_of, (params,), (theta,))[1]

    products = vmap(ntk_product)(torch.from_numpy(r))
    assert rel(products, (ntk @ torch.from_numpy(r).T).T) <= ROUNDOFF


def loss_of(op, rep) -> torch.Tensor:
    return 0.5 * (op(rep()) ** 2).sum()


@pytest.fixture(scope="module")
def reference_gradient(op, model):
    """Float64 CPU gradient of ``loss_of`` w.r.t. the parameters, checked by central FD."""
    rep = small_siren(model, seed=4)
    loss_of(op, rep).backward()
    grads = {k: p.grad.clone() for k, p in rep.named_parameters()}
    rng = np.random.default_rng(5)
    direction = {k: torch.tensor(rng.standard_normal(p.shape)) for k, p in
                 rep.named_parameters()}
    params = {k: p.detach() for k, p in rep.named_parameters()}
    eps = 1e-6

    def shifted(sign: float) -> float:
        theta = {k: params[k] + sign * eps * direction[k] for k in params}
        with torch.no_grad():
            return float(0.5 * (op(functional_call(rep, theta, ())) ** 2).sum())

    fd = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    analytic = float(sum((grads[k] * direction[k]).sum() for k in grads))
    assert analytic == pytest.approx(fd, rel=1e-7)  # measured 1.3e-9 (eps 1e-6: rounding)
    return grads


@pytest.mark.parametrize("device", [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                   reason="no CUDA device")),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_representation_on_its_device_keeps_device_and_dtype(op, model, reference_gradient,
                                                             device, dtype, monkeypatch):
    rep = small_siren(model, seed=4).to(device=device, dtype=dtype)
    copies = []
    to_host = bridge_autograd._as_numpy
    monkeypatch.setattr(bridge_autograd, "_as_numpy", lambda t: copies.append(t) or to_host(t))
    data = op(rep())
    assert data.device.type == device and data.dtype == dtype
    (0.5 * (data**2).sum()).backward()
    assert len(copies) == 2  # the model in forward, the cotangent in backward: once each
    # measured on the CPU: 2.9e-6 to 7.9e-6 (float32), 0 (float64); CUDA's float32 sin and
    # matmuls round differently (not measured here), so it keeps 1e-3
    tol = (1e-4 if device == "cpu" else 1e-3) if dtype == torch.float32 else ROUNDOFF
    for name, p in rep.named_parameters():
        assert p.grad.device.type == device and p.grad.dtype == dtype
        assert rel(p.grad.cpu().double(), reference_gradient[name]) <= tol, name
