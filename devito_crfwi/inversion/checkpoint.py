"""Checkpoint files of :class:`~devito_crfwi.inversion.CRFWIProblem`: written atomically,
the previous good one kept, corrupt ones reported by name.

A checkpoint is one ``torch.save`` file (tensors and plain Python values only, so it loads
with ``weights_only=True``). Each save first keeps the current file as ``*.prev.pt``, then
replaces it atomically: a kill at any moment leaves at least one complete checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from ..io.atomic import atomic_output

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "checkpoint_path", "previous_path",
           "read_checkpoint", "write_checkpoint"]

CHECKPOINT_NAME = "crfwi_checkpoint.pt"
CHECKPOINT_FORMAT = 1


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
