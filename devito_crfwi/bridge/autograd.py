"""The autograd bridge: Devito modelling as a differentiable PyTorch function.

``forward`` runs the wave equation, ``backward`` the adjoint-state gradient with
``grad_output`` as the adjoint source (so any torch loss works), and ``jvp`` the Born
(linearised) modelling, which makes ``torch.func.jvp`` and forward-mode AD work. The shot
loops run on an executor (:mod:`.executors`): serially here, or on a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..physics import Propagator
from .executors import SerialExecutor


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    # Zero-copy for contiguous CPU tensors; other tensors need one copy.
    return t.detach().to("cpu").contiguous().numpy()


def _executor(engine):
    # A bare Propagator (the engine itself) runs serially, as before executors existed.
    return SerialExecutor(engine) if isinstance(engine, Propagator) else engine


class WaveFunction(torch.autograd.Function):
    """vp (x, z) in m/s -> data (shot, time, receiver), differentiable both ways."""

    @staticmethod
    def forward(vp: torch.Tensor, executor, shots: Sequence[int] | None,
                record: bool) -> torch.Tensor:
        # executor: SerialExecutor, DaskExecutor or a Propagator (run serially)
        data, tapes = _executor(executor).forward(_as_numpy(vp), shots, record)
        out = torch.from_numpy(data).to(vp.device)
        # setup_context only sees inputs and outputs: the tapes ride on the output.
        out._crfwi_tapes = tapes
        return out

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        vp, executor, shots, _ = inputs
        ctx.executor = _executor(executor)
        ctx.shots = shots
        ctx.tapes = output.__dict__.pop("_crfwi_tapes", None)
        ctx.save_for_backward(vp)
        ctx.save_for_forward(vp)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (vp,) = ctx.saved_tensors  # read saved_tensors exactly once
        if ctx.tapes is None:
            raise RuntimeError(
                "no wavefield was recorded for this WaveOperator call (it ran without grad, "
                "or backward already ran: tapes are freed after one backward pass); "
                "call the operator again to differentiate"
            )
        tapes, ctx.tapes = ctx.tapes, None  # free the wavefield memory now
        grad = ctx.executor.jacobian_adjoint(_as_numpy(vp), tapes, _as_numpy(grad_output))
        grad_vp = torch.from_numpy(grad).to(device=vp.device, dtype=vp.dtype)
        return (
            grad_vp,
            None,  # executor
            None,  # shots
            None,  # record
        )

    @staticmethod
    def jvp(ctx, vp_tangent: torch.Tensor, *_):
        (vp,) = ctx.saved_tensors  # saved by save_for_forward
        # Under torch.func the tensors here are wrapped; a Function call unwraps them.
        return BornFunction.apply(vp, vp_tangent, ctx.executor, ctx.shots)


class BornFunction(torch.autograd.Function):
    """(vp, dvp) (x, z) in m/s -> Born data J(vp) dvp (shot, time, receiver)."""

    @staticmethod
    def forward(vp: torch.Tensor, dvp: torch.Tensor, executor,
                shots: Sequence[int] | None) -> torch.Tensor:
        dvp_np = _as_numpy(dvp).astype(np.float64)
        data = _executor(executor).born(_as_numpy(vp), dvp_np, shots)
        return torch.from_numpy(data).to(device=dvp.device, dtype=dvp.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        raise NotImplementedError(
            "differentiating Born data (a second derivative of the wave operator) is not "
            "supported"
        )
