"""The package's one adapter to Devito: its configuration, and the private API it relies on.

The rest of the package uses Devito's public API. What is here reaches past it, each use
for a reason given where it is; ``tests/physics/test_devito_adapter.py`` checks every
private name and behaviour this module relies on, so a Devito upgrade that changes one
fails there first.

Configuration: Devito's defaults are sequential C with a generic compiler and chatty
logging; the package prefers OpenMP, gcc and warnings only, but only for a setting the user
left alone: one whose environment variable (``DEVITO_LANGUAGE``, ``DEVITO_ARCH``,
``DEVITO_LOGGING``) is unset and whose value is still Devito's own default when the package
is imported. Setting it in code before importing the package, to anything but Devito's
default, or at any time after, therefore wins too.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import devito
from devito import ConditionalDimension, Operator

# The IET (Devito's intermediate representation of an Operator's loops) is internal; the
# per-thread block sizes of operators.thread_bands are read from its Iteration nodes.
from devito.ir.iet import FindNodes, Iteration

__all__ = [
    "PACKAGE_SETTINGS",
    "FindNodes",
    "Iteration",
    "STALE_COMPILE_LOCK_S",
    "clear_stale_compile_lock",
    "compile_lock",
    "compiled_function",
    "configure_devito",
    "devito_default",
    "subsampling_factor_argument",
    "user_configured",
]

PACKAGE_SETTINGS = {
    # configuration key: (its environment variable, the package's value)
    "language": ("DEVITO_LANGUAGE", "openmp"),
    "compiler": ("DEVITO_ARCH", "gcc"),
    "log-level": ("DEVITO_LOGGING", "WARNING"),
}


def devito_default(key: str) -> str:
    """Devito's own default for configuration ``key``.

    Private: ``Parameters._defaults`` (Devito documents its defaults only by printing them).
    """
    return str(devito.configuration._defaults[key])


def _current(key: str) -> str:
    value = devito.configuration[key]
    # The compiler setting holds a compiler object, named by the key it was chosen with.
    return str(getattr(value, "name", value))


def user_configured(key: str) -> bool:
    """Whether the user chose configuration ``key``: by its environment variable, or in code
    (its value is no longer Devito's default)."""
    env, _ = PACKAGE_SETTINGS[key]
    return env in os.environ or _current(key) != devito_default(key)


def configure_devito() -> dict[str, str]:
    """Apply the package's Devito settings where the user chose none; returns those set."""
    applied = {}
    for key, (_, value) in PACKAGE_SETTINGS.items():
        if not user_configured(key):
            devito.configuration[key] = value
            applied[key] = value
    return applied


def compiled_function(op: Operator) -> Callable[[Mapping[str, Any]], int]:
    """``op``'s compiled C function, called on a mapping from ``op.arguments(...)``.

    This is ``Operator.apply`` without re-processing the arguments (milliseconds a call,
    which add up over hundreds of revolve segments), nor its profiling and error checks.
    Private: ``Operator.cfunction`` takes the arguments' values in the order of
    ``Operator.parameters``, by their names.
    """
    clear_stale_compile_lock(op)
    function = op.cfunction
    names = [parameter.name for parameter in op.parameters]

    def call(args: Mapping[str, Any]) -> int:
        return function(*[args[name] for name in names])

    return call


STALE_COMPILE_LOCK_S = 300.0
"""Age (s) past which a compile lock is taken for a dead process's: a compile takes seconds."""


def compile_lock(op: Operator) -> Path:
    """The file that codepy holds while it compiles or loads ``op``'s library.

    Private: Devito compiles through codepy's ``compile_from_string`` in the cache folder
    ``<codepy dir>/<first 7 characters of op._soname>``, whose ``lock`` file codepy creates
    (``O_EXCL``) for every compile *and* every load from the cache, and removes afterwards.
    """
    return Path(devito.configuration["compiler"].get_codepy_dir()) / op._soname[:7] / "lock"


def clear_stale_compile_lock(op: Operator, stale_s: float = STALE_COMPILE_LOCK_S,
                              poll_s: float = 0.5) -> None:
    """Wait for ``op``'s compile lock to go; remove it, with a warning, once it is older
    than ``stale_s``.

    A process killed while it held the lock (SIGKILL, a killed Dask worker or batch job)
    leaves the file behind, and codepy then waits for it forever, silently (Devito hides
    codepy's warning): every later run that builds the same operator hangs. The lock holds
    no pid, so its age is the only sign that its holder is gone.
    """
    lock = compile_lock(op)
    while True:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return
        if age > stale_s:
            lock.unlink(missing_ok=True)
            warnings.warn(f"removed a compile lock {age:.0f} s old, left by a process that "
                          f"was killed while compiling: {lock}", stacklevel=4)
            return
        time.sleep(poll_s)


def subsampling_factor_argument(dim: ConditionalDimension, factor: int) -> dict[str, int]:
    """The run-time argument that sets the subsampling factor of ``dim`` to ``factor``.

    An operator compiled with one factor then runs with any other. Private: Devito reads the
    factor from the argument named after ``dim.symbolic_factor`` (only a deprecated
    ``Constant`` factor is documented as changeable).
    """
    return {dim.symbolic_factor.name: int(factor)}


configure_devito()
