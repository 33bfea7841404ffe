"""The autograd bridge: Devito modelling as a differentiable PyTorch function.

``forward`` runs the wave equation, ``backward`` the adjoint-state gradient with
``grad_output`` as the adjoint source (so any torch loss works), and ``jvp`` the Born
(linearised) modelling, which makes ``torch.func.jvp`` and forward-mode AD work. The shot
loops run on an executor (:mod:`.executors`): serially here, or on a Dask cluster.

Every function has a ``vmap`` rule, so ``torch.func.jacfwd``, ``jacrev``, ``vmap`` of
``jvp``/``vjp`` and ``torch.autograd.functional.jacobian(..., vectorize=True)`` compose
with it:

* a batch of tangents (Born) or cotangents (adjoint) is ONE executor call that runs
  shots × batch solves on the same propagator (and on Dask, the same worker batches);
* a batch of models (``vmap`` over ``vp`` itself) runs the forward once per model, in a
  loop, each model keeping its own wavefield tapes for its backward.

Tensors may live on any device: each call copies its inputs to the host once and its
outputs back to the input's device (and dtype) once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    # Zero-copy for contiguous CPU tensors; other tensors need one copy.
    return t.detach().to("cpu").contiguous().numpy()


def _batch_first(t: torch.Tensor, dim: int | None, size: int) -> torch.Tensor:
    """``t`` with its vmap dimension ``dim`` first, expanded to ``size`` if it has none."""
    return t.movedim(dim, 0) if dim is not None else t.expand(size, *t.shape)


def _legacy_vmap(function, tensor: torch.Tensor, *args) -> torch.Tensor:
    """``function.apply(*args[:1], tensor, *args[1:])`` for a tensor of PyTorch's legacy vmap.

    ``torch.autograd.grad(..., is_grads_batched=True)`` and hence
    ``torch.autograd.functional.jacobian(..., vectorize=True)`` batch with the legacy vmap,
    which bypasses the ``vmap`` staticmethods: the batch is unwrapped here (its dimension is
    that of the innermost level), passed as a leading dimension, and wrapped again.
    """
    level = torch._C._vmapmode_increment_nesting()
    torch._C._vmapmode_decrement_nesting()
    level -= 1  # the innermost live level
    physical = torch._remove_batch_dim(tensor, level, 0, 0)  # size unused: batched here
    out = function.apply(args[0], physical, *args[1:])
    return torch._add_batch_dim(out, 0, level)


def _is_legacy_batched(tensor: torch.Tensor) -> bool:
    return torch._C._functorch.is_legacy_batchedtensor(tensor)


class Recording:
    """What a differentiable forward leaves for its backward: the executor's tapes.

    ``state`` is the executor's state for one model and ``vp`` that model's host copy
    (x, z), m/s (so the backward copies only its cotangent); ``per_model`` holds one
    recording per model when the forward ran over a batch of models under ``vmap``. All
    are dropped after the backward pass (that frees the wavefields).
    """

    def __init__(self) -> None:
        self.state = None
        self.vp: np.ndarray | None = None
        self.per_model: list[Recording] | None = None

    def free(self) -> None:
        """Drop the tapes."""
        self.state = self.vp = self.per_model = None

    @property
    def empty(self) -> bool:
        """True when nothing is recorded (no grad, or the backward ran already)."""
        return self.state is None and self.per_model is None


class WaveFunction(torch.autograd.Function):
    """vp (x, z) in m/s -> data (shot, time, receiver), differentiable both ways.

    ``recording`` is a fresh :class:`Recording` for a differentiable call, None otherwise.
    """

    @staticmethod
    def forward(vp: torch.Tensor, executor, shots: Sequence[int] | None,
                recording: Recording | None) -> torch.Tensor:
        # executor: a SerialExecutor or DaskExecutor (see executors.make_executor)
        vp_host = _as_numpy(vp)
        data, state = executor.forward(vp_host, shots, recording is not None)
        if recording is not None:
            recording.state, recording.vp = state, vp_host
        return torch.from_numpy(data).to(device=vp.device, dtype=vp.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        vp, executor, shots, recording = inputs
        ctx.executor = executor
        ctx.shots = shots
        ctx.recording = recording
        ctx.save_for_backward(vp)
        ctx.save_for_forward(vp)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (vp,) = ctx.saved_tensors  # read saved_tensors exactly once
        if ctx.recording is None or ctx.recording.empty:
            raise RuntimeError(
                "no wavefield was recorded for this WaveOperator call (it ran without grad, "
                "or backward already ran: tapes are freed after one backward pass); "
                "call the operator again to differentiate"
            )
        # Under torch.func the tensors here are wrapped; a Function call unwraps them.
        if _is_legacy_batched(grad_output):
            grad_vp = _legacy_vmap(AdjointFunction, grad_output, vp, ctx.executor,
                                   ctx.recording)
        else:
            grad_vp = AdjointFunction.apply(vp, grad_output, ctx.executor, ctx.recording)
        ctx.recording.free()  # free the wavefield memory now
        return grad_vp, None, None, None

    @staticmethod
    def jvp(ctx, vp_tangent: torch.Tensor, *_):
        (vp,) = ctx.saved_tensors  # saved by save_for_forward
        if _is_legacy_batched(vp_tangent):
            return _legacy_vmap(BornFunction, vp_tangent, vp, ctx.executor, ctx.shots)
        return BornFunction.apply(vp, vp_tangent, ctx.executor, ctx.shots)

    @staticmethod
    def vmap(info, in_dims, vp, executor, shots, recording):
        # Only vp is a tensor, so it is batched here: one forward per model.
        models = vp.movedim(in_dims[0], 0)
        parts = [Recording() if recording is not None else None for _ in models]
        out = torch.stack([WaveFunction.apply(m, executor, shots, part)
                           for m, part in zip(models, parts, strict=True)])
        if recording is not None:
            recording.per_model = parts
        return out, 0


class _FirstDerivative(torch.autograd.Function):
    """A linearised wave operator (Born or adjoint): differentiable once, not twice."""

    derivative: str = ""  # what it computes, for the message of a second derivative

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @classmethod
    def backward(cls, ctx, grad_output: torch.Tensor):
        raise NotImplementedError(
            f"differentiating {cls.derivative} (a second derivative of the wave operator) is "
            "not supported"
        )


class AdjointFunction(_FirstDerivative):
    """(vp (x, z) m/s, cotangent (..., shot, time, receiver)) -> Jᵀ cotangent (..., x, z).

    ``recording`` holds the tapes and host copy of the forward of ``vp``; they are replayed,
    not freed; ``vp`` gives the device and dtype of the gradient.
    """

    derivative = "the adjoint-state gradient"

    @staticmethod
    def forward(vp: torch.Tensor, cotangent: torch.Tensor, executor,
                recording: Recording) -> torch.Tensor:
        grad = executor.jacobian_adjoint(recording.vp, recording.state, _as_numpy(cotangent))
        return torch.from_numpy(grad).to(device=vp.device, dtype=vp.dtype)

    @staticmethod
    def vmap(info, in_dims, vp, cotangent, executor, recording):
        vp_dim, cot_dim = in_dims[:2]
        if vp_dim is None:
            # A batch of cotangents: one executor call, shots x batch adjoint solves.
            return AdjointFunction.apply(vp, cotangent.movedim(cot_dim, 0), executor,
                                         recording), 0
        # A batch of models: each replays the tapes its own forward recorded.
        models = vp.movedim(vp_dim, 0)
        cotangents = _batch_first(cotangent, cot_dim, len(models))
        return torch.stack([
            AdjointFunction.apply(m, c, executor, part)
            for m, c, part in zip(models, cotangents, recording.per_model, strict=True)
        ]), 0


class BornFunction(_FirstDerivative):
    """(vp (x, z), dvp (..., x, z)) in m/s -> Born data J(vp) dvp (..., shot, time, receiver)."""

    derivative = "Born data"

    @staticmethod
    def forward(vp: torch.Tensor, dvp: torch.Tensor, executor,
                shots: Sequence[int] | None) -> torch.Tensor:
        dvp_np = _as_numpy(dvp).astype(np.float64)
        data = executor.born(_as_numpy(vp), dvp_np, shots)
        return torch.from_numpy(data).to(device=dvp.device, dtype=dvp.dtype)

    @staticmethod
    def vmap(info, in_dims, vp, dvp, executor, shots):
        vp_dim, dvp_dim = in_dims[:2]
        if vp_dim is None:
            # A batch of tangents: one executor call, shots x batch Born solves.
            return BornFunction.apply(vp, dvp.movedim(dvp_dim, 0), executor, shots), 0
        # A batch of models: one Born call per model.
        models = vp.movedim(vp_dim, 0)
        tangents = _batch_first(dvp, dvp_dim, len(models))
        return torch.stack([BornFunction.apply(m, t, executor, shots)
                            for m, t in zip(models, tangents, strict=True)]), 0
