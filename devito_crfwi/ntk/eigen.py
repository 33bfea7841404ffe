"""Top eigenpairs of matrix-free symmetric operators, optionally in a ``B``-inner product.

Three solvers, all of the form ``solver(matvec, n, k, ...) -> EigenResult``:

* :func:`arpack` — implicitly restarted Lanczos (``scipy.sparse.linalg.eigsh``), Euclidean
  inner product only;
* :func:`lanczos` — Lanczos with full reorthogonalisation and no restart, for an operator
  ``A`` self-adjoint in the inner product ``<x, y>_B = xᵀ B y`` of a positive semi-definite
  ``B`` (``A = H K`` with ``B = K``, see :mod:`devito_crfwi.ntk.kernels`). In exact
  arithmetic it equals Lanczos on ``B^{1/2} A B^{-1/2}`` without ever forming ``B^{1/2}``;
* :func:`subspace_iteration` — randomised block subspace iteration with Rayleigh–Ritz,
  in the same ``B``-inner product (Halko, Martinsson & Tropp 2011, alg. 4.3 + 5.3).

``matvec`` maps a flat float64 vector to a flat float64 vector; ``B`` likewise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from ..io.warn import warn

MatVec = Callable[[np.ndarray], np.ndarray]

# Below this size (or for k close to n) the operator is formed column by column.
DENSE_SIZE = 48


@dataclass
class EigenResult:
    """Top-k eigenpairs, descending.

    Attributes
    ----------
    values : ndarray (k,)
        Eigenvalues, descending (zeros pad a rank below ``k``).
    vectors : ndarray (n, k)
        Eigenvectors (``B``-orthonormal columns for a ``B``-inner product).
    products : int
        Operator products used.
    """

    values: np.ndarray
    vectors: np.ndarray
    products: int


def _validate(n: int, k: int) -> None:
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if int(k) > n:
        raise ValueError(f"k must be at most the operator size {n}, got {k}")


def _top(values: np.ndarray, vectors: np.ndarray, k: int, products: int) -> EigenResult:
    order = np.argsort(values)[::-1][:k]
    vals, vecs = values[order], vectors[:, order]
    if len(vals) < k:  # rank below k: the rest of the spectrum is zero
        vals = np.concatenate([vals, np.zeros(k - len(vals))])
        vecs = np.concatenate([vecs, np.zeros((vecs.shape[0], k - vecs.shape[1]))], axis=1)
    return EigenResult(vals, vecs, products)


def dense(matvec: MatVec, n: int, k: int) -> EigenResult:
    """Form the operator from ``n`` products and diagonalise it (small ``n`` only)."""
    _validate(n, k)
    matrix = np.stack([matvec(e) for e in np.eye(n)], axis=1)
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return _top(values, vectors, k, n)


def arpack(matvec: MatVec, n: int, k: int, *, tol: float = 1e-6, seed: int = 0) -> EigenResult:
    """Top-k eigenpairs of a symmetric operator by ARPACK's restarted Lanczos (``eigsh``)."""
    _validate(n, k)
    if n <= DENSE_SIZE or k >= n - 1:
        return dense(matvec, n, k)
    count = 0

    def counted(x: np.ndarray) -> np.ndarray:
        nonlocal count
        count += 1
        return matvec(np.asarray(x, dtype=np.float64).reshape(-1))

    # ARPACK's test ||r|| <= tol * max(eps^(2/3), |θ|) has an absolute floor: scale the
    # operator to O(1) first so that the result does not depend on the data's units.
    x = np.random.default_rng(seed).standard_normal(n)
    v0 = counted(x)
    scale = float(np.linalg.norm(v0) / np.linalg.norm(x))
    if scale == 0.0:
        return _top(np.zeros(0), np.zeros((n, 0)), k, count)
    op = scipy.sparse.linalg.LinearOperator(
        (n, n), matvec=lambda v: counted(v) / scale, dtype=np.float64)
    values, vectors = scipy.sparse.linalg.eigsh(op, k=k, which="LA", tol=tol, v0=v0)
    return _top(values * scale, vectors, k, count)


def _random_start(rng, n, inner, V, BV, m) -> tuple[np.ndarray, np.ndarray, float]:
    """A random vector ``B``-orthogonal to the first ``m`` basis vectors and its B-norm
    (0 when orthogonalisation removed all but ``1e-8`` of the B-norm it had)."""
    w = rng.standard_normal(n)
    Bw = np.asarray(inner(w), dtype=np.float64)
    before = float(np.sqrt(max(w @ Bw, 0.0)))
    for _ in range(2):
        c = BV[:m] @ w
        w = w - c @ V[:m]
        Bw = Bw - c @ BV[:m]
    after = float(np.sqrt(max(w @ Bw, 0.0)))
    return w, Bw, after if after > 1e-8 * before else 0.0


def lanczos(matvec: MatVec, n: int, k: int, *, inner: MatVec | None = None,
            tol: float = 1e-6, floor: float = 1e-12, max_steps: int | None = None,
            seed: int = 0, check_every: int = 5) -> EigenResult:
    """Top-k eigenpairs of ``A`` (self-adjoint in ``<x, y>_B``) by Lanczos without restart.

    Parameters
    ----------
    matvec : callable
        ``x -> A x`` on flat vectors of length ``n``.
    n, k : int
        Operator size and number of eigenpairs.
    inner : callable, optional
        ``x -> B x`` of a symmetric positive semi-definite ``B``; default the identity.
    tol, floor : float
        A Ritz pair ``(θ_i, V s_i)`` is converged when its residual ``β_m |s_{m,i}|`` is at
        most ``tol * θ_i + floor * θ_1``: eigenvalues below ``floor * θ_1`` are only
        resolved in absolute terms (rounding in the products limits them anyway).
    max_steps : int, optional
        Largest Krylov dimension, default ``min(n, 20 k + 50)``; the basis holds
        ``2 * max_steps`` vectors. A ``RuntimeWarning`` says when it ran out unconverged.
    seed : int
        Seed of the starting vector.
    check_every : int
        Steps between convergence checks.

    Returns
    -------
    EigenResult
        Vectors are ``B``-orthonormal; ``products`` counts ``A`` products (``B`` takes as
        many).

    Notes
    -----
    Every new vector is ``B``-orthogonalised twice against the whole basis, and the images
    ``B v_j`` are kept alongside, updated by the same linear combinations, so each step
    costs one ``A`` and one ``B`` product. Where the Krylov space closes before ``k``
    eigenpairs converge, it continues from a fresh random vector; where that vector has no
    ``B``-norm left, the remaining eigenvalues are zero.
    """
    _validate(n, k)
    if inner is None:
        def inner(x):
            return x
    steps = min(n, 20 * k + 50) if max_steps is None else max(k, min(int(max_steps), n))
    rng = np.random.default_rng(seed)
    V = np.zeros((steps + 1, n))
    BV = np.zeros((steps + 1, n))
    H = np.zeros((steps + 1, steps))
    w, Bw, norm = _random_start(rng, n, inner, V, BV, 0)
    if norm == 0.0:
        return _top(np.zeros(0), np.zeros((n, 0)), k, 0)
    V[0], BV[0] = w / norm, Bw / norm
    m, converged = 0, False
    for j in range(steps):
        w = np.asarray(matvec(V[j]), dtype=np.float64)
        Bw = np.asarray(inner(w), dtype=np.float64)
        h = np.zeros(j + 1)
        for _ in range(2):  # full reorthogonalisation, twice is enough (Kahan-Parlett)
            c = BV[: j + 1] @ w
            w = w - c @ V[: j + 1]
            Bw = Bw - c @ BV[: j + 1]
            h += c
        beta = float(np.sqrt(max(w @ Bw, 0.0)))
        m = j + 1
        H[:m, j] = h
        scale = max(float(np.abs(H[:m, :m]).max()), np.finfo(float).tiny)
        if beta <= 1e-12 * scale and m < steps:  # invariant subspace: start afresh
            w, Bw, norm = _random_start(rng, n, inner, V, BV, m)
            beta = 0.0
            if norm == 0.0 or m >= n:
                converged = True
                break
            V[m], BV[m] = w / norm, Bw / norm
        elif m < steps:
            H[m, j] = beta
            V[m], BV[m] = w / beta, Bw / beta
        if m >= k and (m % check_every == 0 or m == steps):
            theta, S = np.linalg.eigh(0.5 * (H[:m, :m] + H[:m, :m].T))
            top = np.argsort(theta)[::-1][:k]
            residual = beta * np.abs(S[m - 1, top])
            bound = tol * np.maximum(theta[top], 0.0) + floor * max(theta[top[0]], 0.0)
            converged = bool(np.all(residual <= bound))
            if converged:
                break
    theta, S = np.linalg.eigh(0.5 * (H[:m, :m] + H[:m, :m].T))
    if not converged and m < n and m >= steps:
        warn(
            f"Lanczos stopped at max_steps = {steps} before the top {k} eigenvalues reached "
            f"tol = {tol:g}; raise max_steps or tol", RuntimeWarning)
    return _top(theta, V[:m].T @ S, k, m)


def _orthonormalise(Y: np.ndarray, BY: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B``-orthonormal basis of the columns of ``Y`` (and its ``B`` image), rank-revealing."""
    for _ in range(2):
        gram = 0.5 * (Y.T @ BY + BY.T @ Y)
        w, U = np.linalg.eigh(gram)
        keep = w > 1e-13 * max(w.max(initial=0.0), np.finfo(float).tiny) * len(w)
        scale = U[:, keep] / np.sqrt(w[keep])
        Y, BY = Y @ scale, BY @ scale
    return Y, BY


def subspace_iteration(matvec: MatVec, n: int, k: int, *, inner: MatVec | None = None,
                       oversample: int = 10, iterations: int = 4, seed: int = 0
                       ) -> EigenResult:
    """Top-k eigenpairs by randomised subspace iteration and Rayleigh–Ritz.

    A block of ``k + oversample`` Gaussian vectors goes ``iterations`` times through
    ``A`` with ``B``-orthonormalisation in between; costs ``(iterations + 1) * (k +
    oversample)`` products of ``A`` (and of ``B``). Accurate for fast-decaying spectra;
    the trailing eigenvalues of a slowly decaying one come out low.
    """
    _validate(n, k)
    if inner is None:
        def inner(x):
            return x
    block = min(n, k + int(oversample))
    rng = np.random.default_rng(seed)

    def apply(f: MatVec, X: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(f(x), dtype=np.float64) for x in X.T], axis=1)

    Y = rng.standard_normal((n, block))
    Q, BQ = _orthonormalise(Y, apply(inner, Y))
    products = 0
    for _ in range(int(iterations)):
        Y = apply(matvec, Q)
        products += Q.shape[1]
        Q, BQ = _orthonormalise(Y, apply(inner, Y))
    AQ = apply(matvec, Q)
    products += Q.shape[1]
    T = BQ.T @ AQ
    theta, S = scipy.linalg.eigh(0.5 * (T + T.T))
    return _top(theta, Q @ S, k, products)
