"""Warnings that point at the user's line, however deep in the package they are raised."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parents[1])  # devito_crfwi/
_CONTEXTLIB = contextlib.__file__  # the frames of our context managers' ``with``


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first calling frame outside ``devito_crfwi``.

    A fixed ``stacklevel`` is right for one call path only: the same check is reached from
    ``simulate``, ``WaveOperator``, ``TangentKernel``, ``CRFWIProblem``... at different depths.
    """
    frame, level = sys._getframe(1), 2  # level 2 = our caller
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE)
                                 or frame.f_code.co_filename == _CONTEXTLIB):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
