"""The command line's one error convention."""

from __future__ import annotations


class CLIError(ValueError):
    """A wrong input: ``main`` reports it on stderr as one line, exit status 1."""
