"""The one exception type of :mod:`devito_crfwi.io`: a SEG-Y file that cannot be used."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SegyError"]


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
