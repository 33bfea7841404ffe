"""The bundled sample files (package data: they travel in the wheel)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SAMPLES", "sample_path"]

SAMPLES = ("layered_salt.sgy", "layered_salt_shots.sgy")
"""The bundled files: a 200 x 80 velocity model at 20 m (m/s) and 8 shot gathers over it."""


def sample_path(name: str = "layered_salt.sgy") -> Path:
    """Path of a bundled sample file (see ``segy_samples/README.md`` for what each holds)."""
    if name not in SAMPLES:
        raise ValueError(f"no bundled sample {name!r}; the samples are {', '.join(SAMPLES)}")
    # The package is installed as files (a wheel or an editable checkout), never zipped.
    return Path(str(resources.files(__package__).joinpath("samples", name)))
