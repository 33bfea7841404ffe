"""The two Jacobians of the wave-based NTK, as matrix-free products on flat float64 vectors.

* :class:`ModelJacobian` ``J = ∂d/∂m`` at a fixed model: ``J·`` is Born modelling and ``Jᵀ·``
  the adjoint-state gradient, both on the float64 engine of a
  :class:`~devito_crfwi.bridge.WaveOperator`. ``m`` is vp in m/s, so the chain rule from
  slowness and the velocity scale are inside ``J``.
* :class:`ParameterJacobian` ``G = ∂m/∂θ`` of a representation at its current parameters:
  ``G·`` is ``torch.func.jvp`` and ``Gᵀ·`` ``torch.func.vjp`` of
  ``functional_call(representation, θ, ())``, on a float64 copy of the module.

Vectors are flat numpy float64 arrays: models ``(nx * nz,)`` in (x, z) order (3-D:
``(nx * ny * nz,)`` in (x, y, z) order), data ``(shot * time * receiver,)``, parameters
``(P,)`` in ``named_parameters()`` order.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..bridge import WaveOperator

# Below this many model cells the network products run on one torch thread: the work is
# milliseconds, and two spinning threads on a loaded 2-core machine were 10-30x slower
# (measured on a 24 x 24 SIREN/grid/IG kernel product). The physics layer has the same rule.
SMALL_MODEL_CELLS = 40_000


@contextmanager
def torch_threads(n_model: int) -> Iterator[None]:
    """One torch thread for small models, restored afterwards."""
    old = torch.get_num_threads()
    if n_model >= SMALL_MODEL_CELLS or old == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def model_values(vp, shape: tuple[int, ...], name: str = "vp") -> np.ndarray:
    """``vp`` (xr.DataArray, ndarray or Tensor, (x, [y,] z), m/s) as float64 of ``shape``."""
    if isinstance(vp, torch.Tensor):
        values = vp.detach().to("cpu", torch.float64).numpy()
    else:
        values = np.asarray(getattr(vp, "values", vp), dtype=np.float64)
    if values.shape != tuple(shape):
        raise ValueError(
            f"{name} must have the operator's model shape {tuple(shape)}, "
            f"got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite everywhere, got NaN or inf values")
    return values.copy()


class ModelJacobian:
    """``J = ∂d/∂vp`` of ``op`` at ``vp``: Born (``J·``) and adjoint (``Jᵀ·``) products.

    Parameters
    ----------
    op : WaveOperator
        Modelling operator; its float64 engine is used, storing every time step.
    vp : xr.DataArray, ndarray or Tensor, (x, z) or (x, y, z), m/s
        Model at which ``J`` is evaluated (copied).
    shots : sequence of int, optional
        Shots of the survey that make up the data; default all.

    Notes
    -----
    The forward wavefields needed by ``Jᵀ`` are recorded once, at the first adjoint product,
    and replayed by later ones when the engine keeps them in full; under revolve
    checkpointing every adjoint product records again (one extra forward per shot).
    """

    def __init__(self, op: WaveOperator, vp, shots: Sequence[int] | None = None) -> None:
        if not isinstance(op, WaveOperator):
            raise TypeError(f"op must be a WaveOperator, got {type(op).__name__}")
        # Jᵀ of arbitrary data-space vectors: every step stored (exact adjoint of Born); the
        # default engine would record each shot again for every broadband product
        self.propagator = op.propagator(np.float64).exact()
        self.vp = model_values(vp, self.propagator.grid.shape)
        self.propagator.set_model(self.vp)  # validates bounds and vmax now
        survey = self.propagator.survey
        self.shots = tuple(survey.shot_indices(shots, where=type(self).__name__).tolist())
        self.data_shape = (len(self.shots), survey.nt, survey.n_receivers)
        self.model_shape = self.propagator.grid.shape
        self.n_model = int(np.prod(self.model_shape))
        self.n_data = int(np.prod(self.data_shape))
        self._tapes: list | None = None
        self._replayable = self.propagator.memory_plan(len(self.shots)).mode == "full"
        self.born_calls = 0
        self.adjoint_calls = 0

    def matvec(self, dvp: np.ndarray) -> np.ndarray:
        """Born data ``J dvp``, flat (shot * time * receiver,), for flat ``dvp`` (m/s)."""
        self.born_calls += 1
        dvp = np.asarray(dvp, dtype=np.float64).reshape(self.model_shape)
        return self.propagator.born(self.vp, dvp, self.shots).reshape(-1).astype(np.float64)

    def rmatvec(self, residual: np.ndarray) -> np.ndarray:
        """``Jᵀ r``, flat (nx * nz,), for a flat data-space vector ``r``."""
        self.adjoint_calls += 1
        if self._tapes is None or not self._replayable:
            _, self._tapes = self.propagator.record(self.vp, self.shots)
        residual = np.asarray(residual, dtype=np.float64).reshape(self.data_shape)
        return self.propagator.jacobian_adjoint(self.vp, self._tapes, residual).reshape(-1)

    def release(self) -> None:
        """Free the recorded wavefields (they are recorded again when needed)."""
        self._tapes = None


class ParameterJacobian:
    """``G = ∂m/∂θ`` of a representation at its current parameters.

    Parameters
    ----------
    representation : nn.Module
        Module whose ``forward()`` returns the model (nx, [ny,] nz) in m/s. A float64 copy is
        differentiated; the module itself is left untouched.
    parameters : sequence of str, optional
        Name prefixes (as in ``named_parameters()``, e.g. ``("encoding",)``) of the
        parameters that make up ``θ``; the others are held fixed. Default: all.

    Attributes
    ----------
    n_parameters : int
        ``P``, the number of scalar parameters (all of ``named_parameters()``).
    model_shape : (int, int)
        ``(nx, nz)``.
    """

    def __init__(self, representation: nn.Module,
                 parameters: Sequence[str] | None = None) -> None:
        if not isinstance(representation, nn.Module):
            raise TypeError(
                f"representation must be an nn.Module, got {type(representation).__name__}"
            )
        module = copy.deepcopy(representation).to(device="cpu", dtype=torch.float64)
        module.requires_grad_(False)  # θ enters through functional_call; the rest is fixed
        self._module = module
        names = [name for name, _ in module.named_parameters()]
        if parameters is not None:
            prefixes = (parameters,) if isinstance(parameters, str) else tuple(parameters)
            names = [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]
            if not names:
                raise ValueError(
                    f"parameters {list(prefixes)} match none of the representation's "
                    f"parameters {[n for n, _ in module.named_parameters()]}"
                )
        if not names:
            raise ValueError("the representation has no parameters: its NTK is zero")
        self._names = names
        params = dict(module.named_parameters())
        self._params = {n: params[n].detach().clone() for n in names}
        self._shapes = [p.shape for p in self._params.values()]
        self._sizes = [p.numel() for p in self._params.values()]
        self.n_parameters = int(sum(self._sizes))
        with torch.no_grad():
            model = self._forward(self._params)
        if model.ndim not in (2, 3):
            raise ValueError(
                f"the representation's forward() must return an (nx, nz) or (nx, ny, nz) "
                f"model, got shape {tuple(model.shape)}"
            )
        self.model = model.numpy().copy()
        self.model_shape = tuple(model.shape)
        self.n_model = int(model.numel())
        self._vjp_fn = None
        self.jvp_calls = 0
        self.vjp_calls = 0

    def _forward(self, params: dict) -> torch.Tensor:
        return torch.func.functional_call(self._module, params, ())

    def _unflatten(self, theta: np.ndarray) -> dict:
        flat = torch.from_numpy(np.ascontiguousarray(theta, dtype=np.float64))
        parts = torch.split(flat, self._sizes)
        return {n: t.view(s) for n, t, s in zip(self._names, parts, self._shapes, strict=True)}

    def matvec(self, theta: np.ndarray) -> np.ndarray:
        """Model perturbation ``G θ``, flat (nx * nz,), m/s, for a flat parameter vector."""
        self.jvp_calls += 1
        with torch.enable_grad(), torch_threads(self.n_model):
            _, tangent = torch.func.jvp(self._forward, (self._params,),
                                        (self._unflatten(theta),))
        return tangent.detach().reshape(-1).numpy().copy()

    def rmatvec(self, dvp: np.ndarray) -> np.ndarray:
        """``Gᵀ v``, flat (P,), for a flat model-space vector ``v``."""
        self.vjp_calls += 1
        with torch_threads(self.n_model):
            if self._vjp_fn is None:
                with torch.enable_grad():
                    _, self._vjp_fn = torch.func.vjp(self._forward, self._params)
            cotangent = torch.from_numpy(
                np.ascontiguousarray(dvp, dtype=np.float64).reshape(self.model_shape)
            )
            (grads,) = self._vjp_fn(cotangent)
            return torch.cat([grads[n].detach().reshape(-1) for n in self._names]).numpy()

    def kernel(self, dvp: np.ndarray) -> np.ndarray:
        """``K v = G Gᵀ v`` (model space, (m/s)² per unit of ``v``), flat (nx * nz,)."""
        return self.matvec(self.rmatvec(dvp))


class IdentityJacobian:
    """``G = I`` (conventional FWI: the model is the parameter vector)."""

    def __init__(self, n_model: int) -> None:
        self.n_parameters = self.n_model = int(n_model)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    rmatvec = matvec
    kernel = matvec
