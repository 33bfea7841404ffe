"""Wave kernel and wave-based NTK: matrix-free spectra against dense ones, theorems 4.1/4.2 of
the CR-FWI paper (arXiv 2603.22362), the tracker, the CLI and the spectra notebook.

One 24 x 24 model at 10 m with 2 shots; ``J`` is formed densely once (576 Born runs).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from devito_crfwi import Survey, WaveOperator
from devito_crfwi.ntk import (
    ENCODING_PARAMETERS,
    NTKTracker,
    TangentKernel,
    compare_spectra,
    lanczos,
    plot_spectra,
    spectrum,
    subspace_iteration,
)
from devito_crfwi.representations import make_representation
from tests.helpers import NOTEBOOKS, model_dataarray

NOTEBOOK = NOTEBOOKS / "02_ntk_spectra.ipynb"
VMAX = 3000.0
# Float64 eigenvalues (Lanczos, subspace iteration) against dense ones: measured 1.3e-15 to
# 7.8e-15 relative; they agree to round-off, not merely to the solvers' tolerances.
ROUNDOFF = 1e-13


@pytest.fixture(scope="module")
def model24():
    """24 x 24 at 10 m: two layers and a lens (m/s)."""
    x, z = np.meshgrid(np.arange(24), np.arange(24), indexing="ij")
    vp = np.where(z < 10, 2000.0, 2400.0) + 200.0 * np.exp(-((x - 12) ** 2 + (z - 16) ** 2) / 10)
    return model_dataarray(vp, 10.0)


@pytest.fixture(scope="module")
def survey24(model24):
    return Survey.surface(model24, n_shots=2, n_receivers=12, f0=15.0, t_max=0.25)


@pytest.fixture(scope="module")
def op24(model24, survey24):
    return WaveOperator(survey24, model24, vmax=VMAX)


@pytest.fixture(scope="module")
def dense(op24, model24):
    """``J`` (D, N) by Born on unit vectors, ``H = JᵀJ`` and its eigenvalues (descending)."""
    jac = TangentKernel(op24, model24).jacobian
    J = np.stack([jac.matvec(e) for e in np.eye(jac.n_model)], axis=1)
    H = J.T @ J
    return SimpleNamespace(J=J, H=H, eigs=np.linalg.eigvalsh(H)[::-1])


class Identity(nn.Module):
    """m = θ: the parameter is the velocity grid."""

    def __init__(self, vp: np.ndarray) -> None:
        super().__init__()
        self.vp = nn.Parameter(torch.tensor(np.asarray(vp), dtype=torch.float64))

    def forward(self) -> torch.Tensor:
        return self.vp


class Linear(nn.Module):
    """m = v0 + A θ with θ = 0: G = A, K = A Aᵀ."""

    def __init__(self, vp: np.ndarray, A: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("v0", torch.tensor(np.asarray(vp), dtype=torch.float64))
        self.register_buffer("A", torch.tensor(A))
        self.theta = nn.Parameter(torch.zeros(A.shape[1], dtype=torch.float64))

    def forward(self) -> torch.Tensor:
        return self.v0 + (self.A @ self.theta).reshape(self.v0.shape)


def contraction(n: int, p: int, norm: float = 0.9, seed: int = 1) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((n, p))
    return A * (norm / np.linalg.norm(A, 2))


def relerr(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1.0)))


# -- the wave kernel -----------------------------------------------------------------------
def test_wave_kernel_matches_dense_eigvalsh(op24, model24, dense):
    eigs = spectrum(op24, model24, k=12)
    assert eigs.shape == (12,) and np.all(np.diff(eigs) <= 0)
    assert relerr(eigs, dense.eigs[:12]) < ROUNDOFF  # measured 2.7e-15
    kernel = TangentKernel(op24, model24)
    data_space, _ = kernel.eigen(12, space="data")  # J Jᵀ, D = 3024
    assert relerr(data_space, dense.eigs[:12]) < ROUNDOFF  # measured 2.0e-15
    randomized, _ = kernel.eigen(5, method="randomized", iterations=6)
    assert relerr(randomized, dense.eigs[:5]) < 1e-4  # 6 iterations: measured 8.3e-6


def test_kernel_operator_is_symmetric_and_torch_callable(op24, model24, dense):
    op = TangentKernel(op24, torch.tensor(model24.values)).operator()
    assert op.space == "model" and op.shape == (576, 576) and op.inner is None
    a, b = np.random.default_rng(0).standard_normal((2, 576))
    ab, ba = a @ op.matvec(b), b @ op.matvec(a)
    assert abs(ab - ba) < 1e-10 * abs(ab)
    scale = abs(dense.H).max()
    # measured: 3.1e-12 relative (worst entry), 3.7e-15 of the largest entry of H
    np.testing.assert_allclose(op.matvec(a), dense.H @ a, rtol=1e-10, atol=1e-13 * scale)
    t = torch.tensor(a, dtype=torch.float32)
    out = op(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), dense.H @ a, rtol=1e-4, atol=1e-6 * scale)


def test_revolve_checkpointing_gives_the_same_products(survey24, model24, dense):
    """Under revolve the tapes are recorded again for every adjoint product."""
    op = WaveOperator(survey24, model24, vmax=VMAX, checkpoints=3)
    kernel = TangentKernel(op, model24)
    x = np.random.default_rng(2).standard_normal(576)
    for _ in range(2):
        # measured: 2.3e-12 relative (worst entry), 6.2e-15 of the largest entry of H
        np.testing.assert_allclose(kernel.gauss_newton(x), dense.H @ x, rtol=1e-10,
                                   atol=1e-13 * abs(dense.H).max())


def test_mode_shapes_are_eigenvectors(op24, model24, dense):
    values, vectors = spectrum(op24, model24, k=3, return_vectors=True)
    assert vectors.shape == (3, 24, 24)
    for lam, g in zip(values, vectors.reshape(3, -1), strict=True):
        assert np.linalg.norm(dense.H @ g - lam * g) < ROUNDOFF * lam  # measured 3.4e-15


# -- the NTK -------------------------------------------------------------------------------
def test_identity_representation_gives_the_wave_kernel(op24, model24, dense):
    identity = Identity(model24.values)
    kernel = TangentKernel(op24, model24, identity)
    assert kernel.choose_space() == "parameter" and kernel.n_parameters == 576
    eigs = spectrum(op24, model24, identity, k=10)
    assert relerr(eigs, dense.eigs[:10]) < ROUNDOFF  # measured 2.2e-15
    model_space, _ = kernel.eigen(10, space="model")  # K-inner-product Lanczos with K = I
    assert relerr(model_space, dense.eigs[:10]) < ROUNDOFF  # measured 1.6e-15
    assert identity.vp.dtype == torch.float64 and identity.vp.grad is None  # untouched


def test_contractive_representation_bounds_the_spectrum_theorem_4_2(op24, model24, dense):
    """‖K‖ ≤ 1 ⇒ λ_i(Θ_ntk) ≤ λ_i(Θ_wave) term by term; P = 2N exercises the model space."""
    A = contraction(576, 1152)
    linear = Linear(model24.values, A)
    kernel = TangentKernel(op24, model24, linear)
    assert kernel.choose_space() == "model"
    truth = np.linalg.svd(dense.J @ A, compute_uv=False)[:12] ** 2
    values, vectors = kernel.eigen(12, return_vectors=True)
    assert relerr(values, truth) < ROUNDOFF  # measured 5.2e-15
    assert np.all(values <= dense.eigs[:12] * (1 + 1e-9))
    assert values[0] < 0.9**2 * dense.eigs[0] * (1 + 1e-9)
    parameter_space, _ = kernel.eigen(12, space="parameter")
    assert relerr(parameter_space, truth) < ROUNDOFF  # measured 6.2e-15
    # mode shapes are eigenvectors of K H (velocity changes of the modes)
    KH = (A @ A.T) @ dense.H
    for lam, g in zip(values[:3], vectors[:3].reshape(3, -1), strict=True):
        assert np.linalg.norm(KH @ g - lam * g) < ROUNDOFF * lam  # measured 1.4e-15


def test_kernel_is_not_stationary_theorem_4_1(op24, model24):
    """The kernel depends on the model: J (hence Θ) changes when vp does."""
    faster = model24.copy(data=model24.values + 300.0)
    before = spectrum(op24, model24, k=5)
    after = spectrum(op24, faster, k=5)
    assert relerr(after, before) > 0.05


def test_named_representations_and_comparison(op24, model24):
    ds = compare_spectra(op24, model24, ("pixel", "inr", "grid", "ig"), k=6,
                         options={"inr": {"hidden_features": 32, "hidden_layers": 2}},
                         parameters={"grid": ENCODING_PARAMETERS["grid"]})
    assert list(ds["kernel"].values) == ["wave", "pixel", "inr", "grid[encoding]", "ig"]
    assert ds["eigenvalues"].dims == ("kernel", "mode")
    np.testing.assert_allclose(ds["eigenvalues"].sel(mode=1), 1.0)
    assert (ds["eigenvalues"].diff("mode") <= 1e-12).all()
    decay = ds["mean_log10_decay"].to_series()
    # the SIREN's and the IG hybrid's NTKs decay much faster than the wave kernel (paper,
    # fig. 2); the pixel NTK is the wave kernel up to a diagonal scaling of the model, and the
    # hash grid's encoding, local like pixels, decays as the wave kernel does here (measured
    # with the C-PML: wave -0.2807, grid -0.2798, pixel -0.2793, inr -1.15, ig -2.13)
    assert decay["inr"] < decay["wave"] - 0.5 and decay["ig"] < decay["wave"] - 0.5
    assert abs(decay["pixel"] - decay["wave"]) < 0.05
    assert abs(decay["grid[encoding]"] - decay["wave"]) < 0.05
    assert int(ds["n_parameters"].sel(kernel="pixel")) == 576
    fig = plot_spectra(ds)
    assert len(fig.axes[0].lines) == 5
    raw = compare_spectra(op24, model24, ("pixel",), k=3, normalise=False)
    np.testing.assert_allclose(raw["eigenvalues"].sel(mode=1), raw["lambda_1"])


def test_misfit_between_vp_and_representation_warns(op24, model24):
    rep = make_representation("pixel", model24.values + 100.0, vmin=1500.0, vmax=VMAX)
    with pytest.warns(UserWarning, match="differs from vp by up to 100"):
        spectrum(op24, model24, rep, k=2)


def test_errors(op24, model24):
    with pytest.raises(ValueError, match="shape"):
        spectrum(op24, model24.values[:10], k=2)
    with pytest.raises(ValueError, match="method must be"):
        spectrum(op24, model24, k=2, method="power")
    with pytest.raises(ValueError, match="k must be at most"):
        spectrum(op24, model24, k=1000)
    with pytest.raises(ValueError, match="match none"):
        TangentKernel(op24, model24, Identity(model24.values), parameters=["net"])
    with pytest.raises(ValueError, match="shots"):
        spectrum(op24, model24, k=2, shots=[5])


# -- solvers on matrices ---------------------------------------------------------------------
def test_lanczos_in_a_semidefinite_inner_product():
    rng = np.random.default_rng(3)
    n = 120
    X = rng.standard_normal((n, n))
    H = X @ X.T / n
    F = rng.standard_normal((n, 30)) * np.logspace(0, -3, 30)  # K of rank 30, fast decay
    K = F @ F.T
    w, U = np.linalg.eigh(K)
    root = (U * np.sqrt(np.clip(w, 0, None))) @ U.T
    truth = np.linalg.eigvalsh(root @ H @ root)[::-1]
    res = lanczos(lambda x: H @ (K @ x), n, 10, inner=lambda x: K @ x, tol=1e-10)
    assert relerr(res.values, truth[:10]) < ROUNDOFF  # measured 7.8e-15
    # K-orthonormal: measured 2.8e-14
    assert np.allclose(res.vectors.T @ K @ res.vectors, np.eye(10), rtol=0, atol=1e-12)
    fast = subspace_iteration(lambda x: H @ (K @ x), n, 5, inner=lambda x: K @ x, iterations=8)
    assert relerr(fast.values, truth[:5]) < ROUNDOFF  # measured 1.9e-15 (8 iterations)
    # rank 3 < k: the rest of the spectrum is zero
    K3 = F[:, :3] @ F[:, :3].T
    res = lanczos(lambda x: H @ (K3 @ x), n, 5, inner=lambda x: K3 @ x)
    assert np.all(res.values[:3] > 0) and np.allclose(res.values[3:], 0.0)


# -- tracking --------------------------------------------------------------------------------
def test_tracker_on_a_stand_in_problem(op24, model24):
    rep = make_representation("pixel", model24.values, vmin=1500.0, vmax=VMAX)

    def current_model():
        with torch.no_grad():
            return model24.copy(data=rep().numpy())

    problem = SimpleNamespace(operator=op24, representation=rep, current_model=current_model)
    tracker = NTKTracker(every=2, k=4, probes=3)
    tracker.start(problem)
    for it in range(4):
        step = torch.randn(rep.delta.shape, generator=torch.Generator().manual_seed(it))
        with torch.no_grad():
            rep.delta += 0.05 * step
        tracker(problem, it, 0.0)
    ds = tracker.dataset()
    assert list(ds["ntk_iteration"].values) == [0, 2, 4]
    assert ds["ntk_eigenvalues"].dims == ("ntk_iteration", "mode")
    change = ds["ntk_change"].values
    assert change[0] == 0.0 and 0.0 < change[1] < change[2] < 1.0
    again = NTKTracker(every=2, k=4, probes=3)
    again.load_state_dict(tracker.state_dict())
    assert again.dataset().equals(ds)


def test_tracker_in_a_solve(op24, model24, survey24):
    from devito_crfwi import CRFWIProblem, simulate

    observed = simulate(model24, survey24)
    initial = model24.copy(data=np.where(np.arange(24)[None, :] < 10, 2000.0, 2400.0)
                           * np.ones((24, 1)))
    problem = CRFWIProblem(observed, survey24, initial=initial, representation="pixel",
                           bounds=(1500.0, VMAX))
    tracker = NTKTracker(every=2, k=3, probes=2)
    tracker.start(problem)
    result = problem.solve(iterations=3, callback=tracker, progress=False)
    assert list(result["ntk_iteration"].values) == [0, 2]  # initial model, after 2 steps
    assert result["ntk_eigenvalues"].shape == (2, 3)
    assert result["ntk_change"].values[0] == 0.0 and result["ntk_change"].values[-1] > 0.0
    assert "loss" in result and result.sizes["iteration"] == 3


# -- command line and notebook ---------------------------------------------------------------
@pytest.mark.smoke
def test_cli_ntk(tmp_path, model24, capsys):
    """Smoke: ``devito-crfwi ntk`` runs, prints its table and writes the figure."""
    from devito_crfwi import write_segy
    from devito_crfwi.cli import main

    path = tmp_path / "model.sgy"
    write_segy(model24, path)
    png = tmp_path / "spectra.png"
    status = main(["ntk", str(path), "--shots", "1", "--receivers", "12", "--f0", "15",
                   "--t-max", "0.25", "-k", "3", "--representations", "pixel", "-o", str(png)])
    out = capsys.readouterr().out
    assert status == 0 and png.stat().st_size > 0
    assert "wave" in out and "pixel" in out and "mean log10" in out


@pytest.mark.smoke
def test_spectra_notebook_runs_small(tmp_path, monkeypatch):
    """Smoke: every cell runs without error, draws and writes the spectra file."""
    from tests.helpers import run_notebook

    monkeypatch.setenv("DEVITO_CRFWI_SMALL", "1")
    monkeypatch.setenv("DEVITO_CRFWI_OUT", str(tmp_path))
    _, text, images = run_notebook(NOTEBOOK, tmp_path, monkeypatch)
    assert images >= 1
    assert "ordering" in text
    assert (tmp_path / "ntk_spectra.nc").exists()


def test_mean_log10_decay():
    from devito_crfwi.ntk import mean_log10_decay

    assert mean_log10_decay([5.0, 0.5, 0.05]) == pytest.approx(-1.0)
    np.testing.assert_allclose(mean_log10_decay([[2.0, 2.0], [1.0, 1e-4]]), [0.0, -2.0])
    assert np.isnan(mean_log10_decay([1.0, 0.0]))


# -- 3-D -----------------------------------------------------------------------------------
# A coarse 15 Hz cube keeps the dense J small; the dispersion it warns of does not enter an
# algebraic comparison of two routes to the same kernel.
@pytest.mark.filterwarnings("ignore:only .* grid points per minimum wavelength")
def test_spectra_on_a_small_3d_grid():
    """The same kernels on (x, y, z): the wave kernel against a dense J from Born runs, the NTK
    of m = v0 + A θ against the SVD of J A, and named 3-D representations through
    ``compare_spectra``."""
    x, y, z = np.meshgrid(np.arange(6), np.arange(5), np.arange(4), indexing="ij")
    vp = model_dataarray(np.where(z < 2, 2000.0, 2400.0) + 30.0 * x - 20.0 * y, 20.0)
    survey = Survey.surface(vp, 1, (3, 2), f0=15.0, t_max=0.2)
    op = WaveOperator(survey, vp, vmax=VMAX, boundary_width=6)
    jac = TangentKernel(op, vp).jacobian
    assert jac.n_model == 6 * 5 * 4  # J from 120 Born runs
    J = np.stack([jac.matvec(e) for e in np.eye(jac.n_model)], axis=1)
    dense = np.linalg.svd(J, compute_uv=False) ** 2
    assert relerr(spectrum(op, vp, k=6), dense[:6]) < ROUNDOFF  # measured 4.4e-15
    A = contraction(jac.n_model, 100)
    ntk = spectrum(op, vp, Linear(vp.values, A), k=6)
    # measured 1.3e-15
    assert relerr(ntk, np.linalg.svd(J @ A, compute_uv=False)[:6] ** 2) < ROUNDOFF
    ds = compare_spectra(op, vp, ("inr", "ig"), k=4,
                         options={"inr": {"hidden_features": 16, "hidden_layers": 1}})
    assert (ds["eigenvalues"].diff("mode") <= 1e-12).all()
    assert ds["mean_log10_decay"].sel(kernel="inr") < ds["mean_log10_decay"].sel(kernel="wave")
