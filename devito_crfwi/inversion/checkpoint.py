"""Checkpoints of :class:`~devito_crfwi.inversion.CRFWIProblem`: what they hold, and their
files (written atomically, the previous good one kept, corrupt ones reported by name).

A checkpoint is one ``torch.save`` file (tensors and plain Python values only, so it loads
with ``weights_only=True``) of a dict with the keys "format" (:data:`CHECKPOINT_FORMAT`),
"fingerprint" (JSON of :func:`fingerprint_of`), "iteration", "representation" and "optimizer"
(state dicts), "numpy_rng" (JSON of the shot draws' bit generator state), "torch_rng",
"history" (lists by name) and "callbacks" (their state dicts, None for those without).
Each save first keeps the current file as ``*.prev.pt``, then replaces it atomically: a kill
at any moment leaves at least one complete checkpoint.

The fingerprint is what defines the problem: the :data:`FINGERPRINT_KEYS` settings, the grid
shape and content hashes (:func:`content_hash`) of the :data:`HASHED` arrays. Resuming
compares it before any state is loaded and refuses a difference, listing each field. A
checkpoint written before a field joined the fingerprint (e.g. the hashes) is resumed with a
warning naming the fields it cannot check: refusing would strand the long runs it holds.
A field with a value known from before it existed (:data:`FINGERPRINT_DEFAULTS`) is checked
against that value instead. Hashes of the first scheme (before :data:`HASH_SCHEME` joined the
fingerprint) depended on whether a Devito kernel had already run in the writing process (see
:func:`content_hash`), so they are not compared either: such a checkpoint resumes with a
warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io.atomic import atomic_output, check_writable_folder

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "FINGERPRINT_DEFAULTS", "FINGERPRINT_KEYS",
           "HASHED", "HASH_SCHEME", "LOCK_NAME", "check_fingerprint", "checkpoint_path",
           "content_hash", "fingerprint_of", "load_state", "previous_path", "read_checkpoint",
           "save_state", "write_checkpoint"]

CHECKPOINT_NAME = "crfwi_checkpoint.pt"
LOCK_NAME = ".crfwi_checkpoint.lock"
"""Held in the checkpoint folder by a running ``solve``: one run per folder."""
CHECKPOINT_FORMAT = 1

FINGERPRINT_KEYS = ("representation", "representation_options", "loss", "regularization",
                    "optimizer", "lr", "shots_per_iteration", "shot_order", "frequency_schedule",
                    "bounds", "seed", "n_shots", "dt", "engine_options", "wavelet",
                    "wavelet_every")
"""The keys of ``CRFWIProblem.settings()`` a checkpoint must agree on to be resumed."""

FINGERPRINT_DEFAULTS = {"regularization": "{}", "wavelet": "survey", "wavelet_every": 0}
"""Settings that joined the fingerprint with an option, and their value before the option
existed: a checkpoint without the field was written with this value (no regularisation, the
survey's wavelet), so it is checked, not merely warned about."""

HASHED = ("observed_data", "initial_model", "water_mask", "survey")
"""The fingerprint's fields that are content hashes of arrays (reported as 'differs')."""
HASH_SCHEME = 2
"""The fingerprint's "hash_scheme": how :func:`content_hash` treats floats (2: tiny ones as 0)."""


def content_hash(*parts: Any) -> str:
    """A short hash of arrays (values, dtype, shape) and plain values, in order.

    Floats below float32's smallest normal number (~1.2e-38 in magnitude, -0.0 too) count as
    zero. Devito's kernels are built with ``-ffast-math``: loading the first one sets the CPU
    to flush subnormals to zero for the whole process, so the same computation (a Ricker
    wavelet's far tail: a subnormal exp() times ~1e3) gives tiny values before and zeros after.
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        if part is None or isinstance(part, str | int | float):
            digest.update(repr(part).encode())
            continue
        array = np.ascontiguousarray(part)
        if array.dtype.kind in "fc":
            array = np.where(np.abs(array) < np.finfo(np.float32).tiny,
                             np.zeros((), array.dtype), array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def checkpoint_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint file in ``checkpoint_dir``, created if missing and checked writable
    (a file there, or a folder that cannot be written, is refused naming the path)."""
    return check_writable_folder(checkpoint_dir, "checkpoint_dir") / CHECKPOINT_NAME


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


def fingerprint_of(settings: Mapping[str, Any], shape: Sequence[int],
                   hashes: Mapping[str, str]) -> dict[str, Any]:
    """What identifies a problem's run: its :data:`FINGERPRINT_KEYS` settings, grid shape and
    the :data:`HASHED` content hashes."""
    if sorted(hashes) != sorted(HASHED):
        raise ValueError(f"hashes must have the keys {HASHED}, got {sorted(hashes)}")
    return ({k: settings[k] for k in FINGERPRINT_KEYS} | {"shape": list(shape)} | dict(hashes)
            | {"hash_scheme": HASH_SCHEME})


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
    checkpoint of another problem is refused, before anything is restored, with a
    ``ValueError`` listing the differences; one that predates some fingerprint fields is
    resumed with a warning naming them (see the module's docstring).
    """
    state = read_checkpoint(path)
    saved = FINGERPRINT_DEFAULTS | json.loads(state["fingerprint"])
    if "hash_scheme" not in saved:
        old = sorted(k for k in HASHED if k in saved)
        if old:
            warnings.warn(
                f"{path} holds first-scheme hashes of {', '.join(old)}, which depended on "
                "whether a Devito kernel had run before they were taken: resuming it without "
                "checking them (make sure it was written with the same data)", stacklevel=3)
        saved = ({k: v for k, v in saved.items() if k not in HASHED}
                 | {k: fingerprint[k] for k in old} | {"hash_scheme": HASH_SCHEME})
    check_fingerprint(path, saved, fingerprint)
    try:
        representation.load_state_dict(state["representation"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError):
        # Same fingerprint, other module (e.g. a user module changed its parameters); torch's
        # own message is a page of parameter names.
        raise ValueError(
            f"{path} does not fit this problem's representation or optimizer although its "
            "settings match (the saved parameters differ in names or shapes); use another "
            "checkpoint_dir"
        ) from None
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    torch.set_rng_state(state["torch_rng"])
    for cb, cb_state in zip(callbacks, state.get("callbacks", []), strict=False):
        if cb_state is not None and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(cb_state)
    return int(state["iteration"]), {k: list(v) for k, v in state["history"].items()}


def check_fingerprint(path: Path, saved: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """Refuse the checkpoint ``path`` of fingerprint ``saved`` for the problem ``now``."""
    differ = sorted(k for k in saved if k in now and now[k] != saved[k])
    if differ:
        details = "; ".join(f"{k}: differs (hash)" if k in HASHED
                            else f"{k}: checkpoint {saved[k]!r}, now {now[k]!r}" for k in differ)
        raise ValueError(
            f"{path} was written by a different problem ({details}); give another "
            "checkpoint_dir, or the problem that wrote it"
        )
    unchecked = sorted(k for k in now if k not in saved)
    if unchecked:
        warnings.warn(
            f"{path} predates the checks of {', '.join(unchecked)}: resuming it without "
            "checking them (make sure it was written with the same data and options)",
            stacklevel=4,
        )
