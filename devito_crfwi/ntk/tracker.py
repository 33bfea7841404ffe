"""``NTKTracker``: the wave-based NTK's spectrum and drift during an inversion.

A callback of :meth:`devito_crfwi.CRFWIProblem.solve`, called as ``callback(problem,
iteration, loss)`` after each optimiser step (``iteration`` 0-based); it reads
``problem.operator`` (the ``WaveOperator``), ``problem.representation`` (the ``nn.Module``)
and ``problem.current_model()`` (vp, ``xr.DataArray`` (x, z)). ``solve`` merges
:meth:`NTKTracker.dataset` into its result and checkpoints :meth:`NTKTracker.state_dict`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from .kernels import TangentKernel


class NTKTracker:
    """Record the top-k NTK eigenvalues and the kernel change every ``every`` iterations.

    Records are labelled by ``ntk_iteration`` = the number of optimiser steps taken, so that
    record ``i`` is the kernel at the model iteration ``i`` of ``solve`` starts from (whose
    loss is ``result["loss"][i]``, the misfit alone ``result["misfit"][i]`` when the problem
    has a regularisation); :meth:`start` records ``ntk_iteration = 0``, the
    initial model, and should be called before ``solve``.

    The kernel change is ``‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F`` in data space, where ``Θ_0`` is the
    first recorded kernel (the initial one after :meth:`start`).
    It is estimated with ``probes`` fixed Rademacher vectors ``z_j`` (Hutchinson:
    ``‖M‖_F² = E ‖M z‖²``): ``sqrt(Σ_j ‖(Θ_t − Θ_0) z_j‖²) / sqrt(Σ_j ‖Θ_0 z_j‖²)``.
    Each probe costs one adjoint, one network jvp/vjp and one Born.

    Parameters
    ----------
    every : int
        Record after every ``every``-th step (and at the first call when :meth:`start` was
        not called).
    k : int
        Number of eigenvalues.
    probes : int
        Number of probe vectors for the kernel change (0 disables it).
    shots : sequence of int, optional
        Shots in the data space; default all shots of the operator's survey.
    method, space, tol :
        Eigen-solver settings, see :meth:`TangentKernel.eigen`.
    seed : int
        Seed of the probes and of the Lanczos start vectors (the same at every record).

    Examples
    --------
    >>> tracker = NTKTracker(every=10, k=10, probes=4)
    >>> tracker.start(problem)
    >>> result = problem.solve(iterations=100, callback=tracker)
    >>> result["ntk_eigenvalues"], result["ntk_change"]
    """

    def __init__(self, every: int = 10, k: int = 10, probes: int = 4, *,
                 shots: Sequence[int] | None = None, method: str = "lanczos",
                 space: str = "auto", tol: float = 1e-4, seed: int = 0) -> None:
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if int(probes) < 0:
            raise ValueError(f"probes must be >= 0, got {probes}")
        self.every, self.k, self.probes = int(every), int(k), int(probes)
        self.shots = None if shots is None else tuple(int(s) for s in shots)
        self.method, self.space, self.tol, self.seed = method, space, float(tol), int(seed)
        self.iterations: list[int] = []
        self.eigenvalues: list[np.ndarray] = []
        self.changes: list[float] = []
        self.seconds: list[float] = []
        self._reference: np.ndarray | None = None  # (probes, D): Θ_0 z_j

    def __call__(self, problem, iteration: int, loss: float) -> None:
        steps = int(iteration) + 1
        if not self.iterations or steps % self.every == 0:
            self.record(problem, steps)

    def start(self, problem) -> None:
        """Record the kernel of the initial model (``ntk_iteration = 0``), before ``solve``."""
        self.record(problem, 0)

    def _probes(self, n_data: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.choice(np.array([-1.0, 1.0]), size=(self.probes, n_data))

    def record(self, problem, iteration: int) -> None:
        """Compute and store the spectrum and kernel change of ``problem`` now, labelled
        ``iteration``."""
        start = time.perf_counter()
        kernel = TangentKernel(problem.operator, problem.current_model(),
                               problem.representation, shots=self.shots)
        values, _ = kernel.eigen(self.k, method=self.method, space=self.space, tol=self.tol,
                                 seed=self.seed)
        change = np.nan
        if self.probes:
            images = np.stack([kernel.data_product(z) for z in self._probes(kernel.n_data)])
            if self._reference is None:
                self._reference = images
            elif self._reference.shape != images.shape:
                raise ValueError(
                    f"the data space changed between records ({self._reference.shape[1]} -> "
                    f"{images.shape[1]} samples); track a fixed set of shots"
                )
            change = float(np.linalg.norm(images - self._reference)
                           / np.linalg.norm(self._reference))
        kernel.release()
        self.iterations.append(int(iteration))
        self.eigenvalues.append(np.asarray(values, dtype=np.float64))
        self.changes.append(change)
        self.seconds.append(time.perf_counter() - start)

    def state_dict(self) -> dict:
        """The records and the reference probe images (for checkpoints)."""
        return {
            "iterations": list(self.iterations),
            "eigenvalues": [torch.from_numpy(v) for v in self.eigenvalues],
            "changes": list(self.changes),
            "seconds": list(self.seconds),
            "reference": None if self._reference is None else torch.from_numpy(self._reference),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (records from a checkpoint, e.g. on resume)."""
        self.iterations = [int(i) for i in state["iterations"]]
        self.eigenvalues = [np.asarray(v, dtype=np.float64) for v in state["eigenvalues"]]
        self.changes = [float(c) for c in state["changes"]]
        self.seconds = [float(s) for s in state["seconds"]]
        ref = state["reference"]
        self._reference = None if ref is None else np.asarray(ref, dtype=np.float64)

    def dataset(self) -> xr.Dataset:
        """``ntk_eigenvalues`` (ntk_iteration, mode), ``ntk_change`` and ``ntk_seconds``
        (ntk_iteration); ``mode`` counts from 1."""
        values = np.array(self.eigenvalues).reshape(len(self.iterations), self.k)
        coords = {"ntk_iteration": np.asarray(self.iterations, dtype=int),
                  "mode": np.arange(1, self.k + 1)}
        ds = xr.Dataset(
            {
                "ntk_eigenvalues": (("ntk_iteration", "mode"), values),
                "ntk_change": ("ntk_iteration", np.asarray(self.changes, dtype=np.float64)),
                "ntk_seconds": ("ntk_iteration", np.asarray(self.seconds, dtype=np.float64)),
            },
            coords=coords,
        )
        ds["ntk_eigenvalues"].attrs.update(
            long_name="top eigenvalues of the wave-based NTK (J G)(J G)^T", k=self.k,
            method=self.method)
        ds["ntk_change"].attrs.update(
            long_name="||Theta_t - Theta_0||_F / ||Theta_0||_F (probe estimate)",
            probes=self.probes, seed=self.seed)
        ds["ntk_seconds"].attrs["units"] = "s"
        return ds
