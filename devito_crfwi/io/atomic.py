"""Atomic file output: write to a temporary file in the target folder, then rename.

A reader never sees a half-written file, and a failed write leaves the old file
(if any) untouched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_output", "check_target", "write_atomic"]

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
    _remove_stale(path)
    # The writer's pid is in the name: a later write can tell a dead writer's leftover.
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                    dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        _fsync(tmp)  # the data are on disk before the name points at them
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
        _fsync(path.parent)  # and the rename itself survives a crash
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: str | os.PathLike[str], writer: Callable[[Path], object], *,
                 overwrite: bool = True) -> Path:
    """``writer(tmp)`` writes the content to a temporary path; then it becomes ``path``."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(path: Path) -> None:
    """Delete temporary files of earlier writers of ``path`` whose process is gone."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = leftover.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
