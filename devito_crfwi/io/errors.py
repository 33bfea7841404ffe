"""The exception types of :mod:`devito_crfwi.io`.

:class:`SegyError` (public): a SEG-Y file that cannot be used. :class:`GeometryError`
(internal): header values that give no model grid, raised by the numpy-only grid code and
turned into a :class:`SegyError` naming the file by ``read_segy``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["GeometryError", "SegyError"]


class SegyError(ValueError):
    """A SEG-Y (or model data) file is missing, unreadable or malformed.

    The message always names the file and the problem, and where possible says
    what to do next (for example which keyword argument to pass).

    Parameters
    ----------
    path : str or os.PathLike
        The file concerned.
    problem : str
        What is wrong, in words.
    hint : str, optional
        What the caller can do about it.

    Attributes
    ----------
    path : pathlib.Path
    problem : str
    hint : str or None
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, hint: str | None = None):
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        message = f"{self.path}: {problem}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[SegyError], tuple[Path, str, str | None]]:
        # Keep the exception picklable (Dask workers send errors back by pickle).
        return (type(self), (self.path, self.problem, self.hint))


class GeometryError(ValueError):
    """Header values that give no regular model grid.

    Attributes
    ----------
    problem : str
        What is wrong, in words (naming the header field).
    hint : str or None
        What the caller of ``read_segy`` can pass instead.
    """

    def __init__(self, problem: str, hint: str | None = None):
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem}; {hint}" if hint else problem)
