"""The wave kernel ``Θ_wave = J Jᵀ`` and the wave-based NTK ``Θ_ntk = (J G)(J G)ᵀ``, matrix-free.

Both kernels live in data space (``D = shot * time * receiver``), where they are ``D × D``.
Their nonzero eigenvalues are shared by smaller operators:

========================  =======================  ==========================  ============
space                     ``Θ_wave`` (``G = I``)   ``Θ_ntk``                   symmetric in
========================  =======================  ==========================  ============
``"data"`` (D)            ``J Jᵀ``                 ``J K Jᵀ``, ``K = G Gᵀ``    Euclidean
``"model"`` (N = nx nz)   ``H = JᵀJ``              ``H K``                     ``<x, y>_K``
``"parameter"`` (P)       —                        ``Gᵀ H G``                  Euclidean
========================  =======================  ==========================  ============

(``AB`` and ``BA`` share nonzero eigenvalues.) Every product costs one Born (``J·``) and one
adjoint (``Jᵀ·``), plus one network jvp (``G·``) and vjp (``Gᵀ·``) for the NTK, whatever the
space; what the space changes is the size of the Lanczos vectors and whether the operator is
symmetric. ``"auto"`` takes the smallest space, in the order parameter, model, data on ties:
typically ``N ≪ D`` and ``P ≫ N`` for coordinate networks, so the NTK is solved in model space.
There ``H K`` is not symmetric, but it is self-adjoint in the ``K``-inner product
(``<x, H K y>_K = xᵀ K H K y``), so Lanczos in that inner product (:func:`~.eigen.lanczos`)
is Lanczos on the symmetric ``K^{1/2} H K^{1/2}`` without forming ``K^{1/2}``.

Eigenvectors are reported in model space as the velocity change of each mode, ``g = G u``
for a parameter-space eigenvector ``u``: eigenvectors of ``K H`` (of ``H`` for the wave
kernel), unit Euclidean norm, largest entry positive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse.linalg
import torch
from torch import nn

from ..bridge import WaveOperator
from ..io.warn import warn
from . import eigen
from .jacobians import IdentityJacobian, ModelJacobian, ParameterJacobian

SPACES = ("auto", "model", "data", "parameter")
METHODS = ("lanczos", "randomized", "dense")


class KernelOperator(scipy.sparse.linalg.LinearOperator):
    """A kernel in one space, as a SciPy ``LinearOperator`` that torch tensors can call too.

    Attributes
    ----------
    space : {"model", "data", "parameter"}
        The space it acts on.
    inner : LinearOperator or None
        ``K`` when the operator is self-adjoint in ``<x, y>_K`` only (model-space NTK); None
        when it is symmetric.
    """

    def __init__(self, matvec: Callable, n: int, space: str, *,
                 inner: Callable | None = None, rmatvec: Callable | None = None) -> None:
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))
        self._f = matvec
        self._rf = matvec if rmatvec is None else rmatvec
        self.space = space
        self.inner = None if inner is None else scipy.sparse.linalg.LinearOperator(
            (n, n), matvec=lambda x: inner(np.ravel(x)), rmatvec=lambda x: inner(np.ravel(x)),
            dtype=np.float64,
        )

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._f(np.asarray(x, dtype=np.float64).reshape(-1))

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        return self._rf(np.asarray(x, dtype=np.float64).reshape(-1))

    def __call__(self, x):
        """``Θ x`` for an ndarray or a Tensor ``(n,)`` or ``(n, b)``; a Tensor comes back as one."""
        if not isinstance(x, torch.Tensor):
            return self @ x
        out = self @ x.detach().to("cpu", torch.float64).numpy()
        return torch.from_numpy(np.asarray(out)).to(device=x.device, dtype=x.dtype)


class TangentKernel:
    """``Θ = (J G)(J G)ᵀ`` of ``op`` at ``vp`` for a representation (``G = I`` if None).

    Parameters
    ----------
    op : WaveOperator
        Modelling operator; its float64 engine evaluates ``J``.
    vp : xr.DataArray, ndarray or Tensor, (x, z) or (x, y, z), m/s
        Model at which ``J`` is evaluated.
    representation : nn.Module, optional
        Module whose ``forward()`` returns the (nx, [ny,] nz) model in m/s; its current parameters
        define ``G = ∂m/∂θ``. None gives the wave kernel of conventional FWI. A warning is
        raised when its output is not ``vp`` (the kernel then mixes two states).
    shots : sequence of int, optional
        Shots that make up the data space; default all.
    parameters : sequence of str, optional
        Name prefixes of the parameters that define ``G`` (the rest held fixed); default all.

    Attributes
    ----------
    n_model, n_data, n_parameters : int
        ``N``, ``D`` and ``P`` (``P = N`` for the wave kernel).
    jacobian : ModelJacobian
    parameters : ParameterJacobian or IdentityJacobian
    """

    def __init__(self, op: WaveOperator, vp, representation: nn.Module | None = None, *,
                 shots: Sequence[int] | None = None,
                 parameters: Sequence[str] | None = None) -> None:
        self.jacobian = ModelJacobian(op, vp, shots)
        self.n_model, self.n_data = self.jacobian.n_model, self.jacobian.n_data
        self.model_shape = self.jacobian.model_shape
        self.is_wave = representation is None
        if representation is None:
            self.parameters = IdentityJacobian(self.n_model)
        else:
            self.parameters = ParameterJacobian(representation, parameters)
            if self.parameters.model_shape != self.model_shape:
                raise ValueError(
                    "the representation's forward() must return the operator's model shape "
                    f"{self.model_shape}, got {self.parameters.model_shape}"
                )
            gap = float(np.abs(self.parameters.model - self.jacobian.vp).max())
            if gap > 1e-3 * float(np.abs(self.jacobian.vp).max()):
                warn(
                    f"the representation's model differs from vp by up to {gap:.1f} m/s: J is "
                    "evaluated at vp and G at the representation's parameters"
                )
        self.n_parameters = self.parameters.n_parameters
        self.products = 0  # operator products of the last eigen()

    # -- products -------------------------------------------------------------------------
    def gauss_newton(self, x: np.ndarray) -> np.ndarray:
        """``H x = JᵀJ x`` (model space)."""
        return self.jacobian.rmatvec(self.jacobian.matvec(x))

    def kernel(self, x: np.ndarray) -> np.ndarray:
        """``K x = G Gᵀ x`` (model space; the identity for the wave kernel)."""
        return self.parameters.kernel(x)

    def model_product(self, x: np.ndarray) -> np.ndarray:
        """``H K x`` (model space)."""
        return self.gauss_newton(self.kernel(x))

    def parameter_product(self, theta: np.ndarray) -> np.ndarray:
        """``Gᵀ H G θ`` (parameter space)."""
        return self.parameters.rmatvec(self.gauss_newton(self.parameters.matvec(theta)))

    def data_product(self, r: np.ndarray) -> np.ndarray:
        """``Θ r = J K Jᵀ r`` (data space, flat (shot * time * receiver,))."""
        return self.jacobian.matvec(self.kernel(self.jacobian.rmatvec(r)))

    # -- operators ------------------------------------------------------------------------
    def choose_space(self, space: str = "auto") -> str:
        """The space for ``space="auto"``: the smallest of parameter, model, data."""
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        if space == "parameter" and self.is_wave:
            return "model"  # G = I: the parameter space is the model space
        if space != "auto":
            return space
        sizes = {"model": self.n_model, "data": self.n_data}
        if not self.is_wave:
            sizes = {"parameter": self.n_parameters, **sizes}
        return min(sizes, key=sizes.get)

    def operator(self, space: str = "auto") -> KernelOperator:
        """The kernel in ``space`` as a :class:`KernelOperator` (see the module table)."""
        space = self.choose_space(space)
        if space == "data":
            return KernelOperator(self.data_product, self.n_data, "data")
        if space == "parameter":
            return KernelOperator(self.parameter_product, self.n_parameters, "parameter")
        if self.is_wave:
            return KernelOperator(self.gauss_newton, self.n_model, "model")
        return KernelOperator(
            self.model_product, self.n_model, "model", inner=self.kernel,
            rmatvec=lambda x: self.kernel(self.gauss_newton(x)),
        )

    def _model_directions(self, vectors: np.ndarray, space: str) -> np.ndarray:
        """Velocity change of each mode (k, nx, [ny,] nz), unit norm, largest entry positive."""
        columns = []
        for v in vectors.T:
            if space == "parameter":
                g = self.parameters.matvec(v)
            elif space == "data":
                g = self.kernel(self.jacobian.rmatvec(v))
            elif self.is_wave:
                g = v
            else:
                g = self.kernel(v)
            norm = np.linalg.norm(g)
            if norm > 0:
                g = g / norm * np.sign(g[np.argmax(np.abs(g))])
            columns.append(g)
        return np.stack(columns).reshape(-1, *self.model_shape)

    def eigen(self, k: int = 20, *, method: str = "lanczos", space: str = "auto",
              tol: float = 1e-6, seed: int = 0, return_vectors: bool = False,
              **options) -> tuple[np.ndarray, np.ndarray | None]:
        """Top-k eigenvalues (descending) and, optionally, model-space mode shapes.

        Parameters
        ----------
        k : int
            Number of eigenvalues.
        method : {"lanczos", "randomized", "dense"}
            Lanczos (ARPACK for the symmetric spaces, :func:`~.eigen.lanczos` in the
            ``K``-inner product for the model-space NTK), randomised subspace iteration, or
            the operator formed column by column (tests and tiny problems).
        space : {"auto", "model", "data", "parameter"}
            Where to solve; see the module notes.
        tol : float
            Relative accuracy of the Lanczos eigenvalues.
        seed : int
            Seed of the starting vectors.
        return_vectors : bool
            Also return the mode shapes (k, nx, [ny,] nz).
        **options
            Passed to :func:`~.eigen.lanczos` or :func:`~.eigen.subspace_iteration`
            (``max_steps``, ``oversample``, ``iterations``).

        Returns
        -------
        values : ndarray (k,)
            Eigenvalues of ``Θ``, descending; units (data unit)² per (m/s)² for the wave
            kernel, times (m/s per parameter unit)² for the NTK.
        vectors : ndarray (k, nx, [ny,] nz) or None
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        op = self.operator(space)
        n = op.shape[0]
        inner = None if op.inner is None else self.kernel
        if method == "dense":
            result = eigen.dense(op.matvec, n, k) if inner is None else _dense_nonsymmetric(
                op.matvec, n, k)
        elif method == "randomized":
            result = eigen.subspace_iteration(op.matvec, n, k, inner=inner, seed=seed, **options)
        elif inner is None:
            result = eigen.arpack(op.matvec, n, k, tol=tol, seed=seed)
        else:
            result = eigen.lanczos(op.matvec, n, k, inner=inner, tol=tol, seed=seed, **options)
        self.products = result.products
        vectors = self._model_directions(result.vectors, op.space) if return_vectors else None
        return result.values, vectors

    def release(self) -> None:
        """Free the recorded forward wavefields."""
        self.jacobian.release()


def _dense_nonsymmetric(matvec: Callable, n: int, k: int) -> eigen.EigenResult:
    """Eigenpairs of a formed ``H K`` (real spectrum); vectors are the right eigenvectors."""
    matrix = np.stack([matvec(e) for e in np.eye(n)], axis=1)
    values, vectors = np.linalg.eig(matrix)
    order = np.argsort(values.real)[::-1][:k]
    return eigen.EigenResult(values.real[order], vectors.real[:, order], n)
