"""The host's memory: what is free, and a refusal before allocating what would not fit."""

from __future__ import annotations

import os

import numpy as np

# The share of the memory free that a gradient's tapes planned without ``memory_limit`` may
# take: the rest is left to the gathers, the caller's arrays (autograd, optimiser) and the
# other processes of the machine.
TAPE_MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes the system can still give this process: ``MemAvailable``, else free pages."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def tape_budget() -> int:
    """Bytes that tapes planned without ``memory_limit`` may take now: ``TAPE_MEMORY_SHARE``
    of :func:`available_memory`."""
    return int(available_memory() * TAPE_MEMORY_SHARE)


def require_memory(what: str, sizes: dict[str, int], hint: str = "") -> None:
    """Raise ``MemoryError`` naming ``sizes`` (bytes) when their sum exceeds free memory."""
    need = sum(sizes.values())
    free = available_memory()
    if need > free:
        parts = ", ".join(f"{name} {_size(n)}" for name, n in sizes.items())
        raise MemoryError(f"{what} needs {_size(need)} ({parts}) but only {_size(free)} of "
                          f"memory is available; nothing was allocated{hint}")


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def wavefield_bytes(shape: tuple[int, ...], dtype) -> int:
    """Bytes of one wavefield time level of ``shape`` (with halo) and ``dtype``."""
    return int(np.prod(shape)) * np.dtype(dtype).itemsize
