"""Atomic file output: write to a temporary file in the target folder, then rename.

A reader never sees a half-written file, and a failed write leaves the old file
(if any) untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output", "check_target"]

_FILE_MODE = 0o644


def check_target(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Check that ``path`` can be written; return it as a Path.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    IsADirectoryError
        ``path`` is a folder.
    FileNotFoundError
        The folder that should hold ``path`` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name to write")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    overwrite : bool
        Replace an existing file. Without it, an existing file (also one created
        by someone else while writing) raises ``FileExistsError``.

    Yields
    ------
    pathlib.Path
        An empty temporary file in the same folder; write the content there.
    """
    path = check_target(path, overwrite=overwrite)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile
            except FileExistsError:
                raise FileExistsError(
                    f"{path} already exists; pass overwrite=True to replace it"
                ) from None
            except OSError:  # no hard links on this file system
                if path.exists():
                    raise FileExistsError(
                        f"{path} already exists; pass overwrite=True to replace it"
                    ) from None
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
