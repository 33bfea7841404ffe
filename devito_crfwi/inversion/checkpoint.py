"""Checkpoints of :class:`~devito_crfwi.inversion.CRFWIProblem`: what they hold, and their
files (written atomically, the previous good one kept, corrupt ones reported by name).

A checkpoint is one ``torch.save`` file (tensors and plain Python values only, so it loads
with ``weights_only=True``) of a dict with the keys "format" (:data:`CHECKPOINT_FORMAT`),
"fingerprint" (JSON of :func:`fingerprint_of`), "iteration", "representation" and "optimizer"
(state dicts), "numpy_rng" (JSON of the shot draws' bit generator state), "torch_rng",
"history" (lists by name) and "callbacks" (their state dicts, None for those without).
Each save first keeps the current file as ``*.prev.pt``, then replaces it atomically: a kill
at any moment leaves at least one complete checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.atomic import atomic_output

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "FINGERPRINT_KEYS", "checkpoint_path",
           "fingerprint_of", "load_state", "previous_path", "read_checkpoint", "save_state",
           "write_checkpoint"]

CHECKPOINT_NAME = "crfwi_checkpoint.pt"
CHECKPOINT_FORMAT = 1

FINGERPRINT_KEYS = ("representation", "representation_options", "loss", "optimizer", "lr",
                    "shots_per_iteration", "shot_order", "frequency_schedule", "bounds", "seed",
                    "n_shots", "dt", "engine_options")
"""The keys of ``CRFWIProblem.settings()`` a checkpoint must agree on to be resumed."""


def checkpoint_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint file in ``checkpoint_dir`` (created if missing; a file there is refused)."""
    folder = Path(checkpoint_dir)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"checkpoint_dir {folder} is a file; give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / CHECKPOINT_NAME


def previous_path(path: Path) -> Path:
    """Where the checkpoint before ``path``'s current one is kept."""
    return path.with_name(path.name.removesuffix(".pt") + ".prev.pt")


def write_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically, keeping the file it replaces as ``*.prev.pt``."""
    path = Path(path)
    if path.exists():  # a copy, so that ``path`` itself never vanishes
        with atomic_output(previous_path(path), overwrite=True) as tmp:
            shutil.copyfile(path, tmp)
    with atomic_output(path, overwrite=True) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)
    return path


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state in ``path``; a ``ValueError`` naming the file when it is not a good one."""
    path = Path(path)
    try:
        state = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 (truncated/foreign files raise RuntimeError,
        # EOFError, pickle.UnpicklingError, zipfile errors...: all mean "not a good file")
        raise ValueError(_corrupt(path, err)) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: not a CRFWIProblem checkpoint (format {found!r})")
    return state


def _corrupt(path: Path, err: Exception) -> str:
    prev = previous_path(path)
    keep = (f"; the previous good checkpoint is {prev}: move it to {path.name} to resume from "
            "it") if prev.exists() else ""
    return f"{path} is corrupt or truncated ({type(err).__name__}: {err}){keep}"


def fingerprint_of(settings: Mapping[str, Any], shape: Sequence[int]) -> dict[str, Any]:
    """What identifies a problem's run: its :data:`FINGERPRINT_KEYS` settings and grid shape."""
    return {k: settings[k] for k in FINGERPRINT_KEYS} | {"shape": list(shape)}


def save_state(
    path: str | os.PathLike[str],
    *,
    fingerprint: Mapping[str, Any],
    iteration: int,
    representation: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    history: Mapping[str, Sequence[float]],
    callbacks: Sequence = (),
) -> Path:
    """Write a problem's state to ``path`` (see :func:`write_checkpoint`).

    ``rng`` draws the shot mini-batches; torch's global RNG is saved too.
    """
    state = {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": json.dumps(dict(fingerprint), sort_keys=True),
        "iteration": iteration,
        "representation": representation.state_dict(),
        "optimizer": optimizer.state_dict(),
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "history": {k: list(v) for k, v in history.items()},
        "callbacks": [
            cb.state_dict() if hasattr(cb, "state_dict") else None for cb in callbacks
        ],
    }
    return write_checkpoint(state, path)


def load_state(
    path: str | os.PathLike[str],
    *,
    fingerprint: Mapping[str, Any],
    representation: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    callbacks: Sequence = (),
) -> tuple[int, dict[str, list[float]]]:
    """Restore the state saved by :func:`save_state` for a problem of this ``fingerprint``.

    ``representation``, ``optimizer``, ``rng``, torch's global RNG and the ``callbacks`` that
    have ``load_state_dict`` are restored in place; returns (iteration, history). A
    checkpoint of another problem is refused with a ``ValueError`` listing the differences.
    """
    state = read_checkpoint(path)
    saved = json.loads(state["fingerprint"])
    # A checkpoint written before a key joined the fingerprint is compared on its own keys.
    differ = sorted(k for k in saved.keys() if fingerprint.get(k) != saved.get(k))
    if differ:
        details = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {fingerprint.get(k)!r}"
                            for k in differ)
        raise ValueError(
            f"{path} was written by a different problem ({details}); use another "
            "checkpoint_dir or resume=False"
        )
    representation.load_state_dict(state["representation"])
    optimizer.load_state_dict(state["optimizer"])
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    torch.set_rng_state(state["torch_rng"])
    for cb, cb_state in zip(callbacks, state.get("callbacks", []), strict=False):
        if cb_state is not None and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(cb_state)
    return int(state["iteration"]), {k: list(v) for k, v in state["history"].items()}
