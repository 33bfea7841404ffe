"""Atomic file output, writable-folder checks and folder locks.

Atomic output writes to a temporary file in the target folder, then renames it: a reader
never sees a half-written file, and a failed write leaves the old file (if any) untouched.
The temporary files are named ``.<name>.crfwi-tmp-<host>-<pid>.<random>.tmp``: a later
write of the same file deletes only those of this marker whose process is gone from this
host, never a user's file that merely looks like a temporary one.

A lock (:func:`try_lock`, :func:`locked`) is an exclusive ``flock`` on a file that holds its
holder's pid and host; the kernel drops it when the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["FolderInUseError", "atomic_output", "check_target", "check_writable_folder",
           "locked", "release_lock", "try_lock", "write_atomic"]

_FILE_MODE = 0o644
_TMP_MARK = "crfwi-tmp"
# Host names go into file names: keep letters, digits and dashes only.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"


class FolderInUseError(BlockingIOError):
    """A folder's lock is held by another process (named in the message)."""


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
    tmp = _temporary(path)
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


def _temporary(path: Path) -> Path:
    """A new empty temporary file for ``path``, in its folder, named as the module says."""
    # The marker, host and pid are in the name: a later write can tell a dead writer's
    # leftover, and nothing else.
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{_TMP_MARK}-{_HOST}-{os.getpid()}.",
                                    suffix=".tmp", dir=path.parent)
    os.close(handle)
    return Path(name)


def _remove_stale(path: Path) -> None:
    """Delete temporary files of earlier writers of ``path`` whose process is gone."""
    ours = re.compile(rf"\.{re.escape(path.name)}\.{_TMP_MARK}-(?P<host>[A-Za-z0-9-]+)-"
                      r"(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
    for leftover in path.parent.iterdir():
        match = ours.fullmatch(leftover.name)
        # Only a plain file of this host's dead writer: a pid of another host says nothing.
        if match is None or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):  # another writer swept it first
            if stat.S_ISREG(leftover.lstat().st_mode):
                leftover.unlink()


def check_writable_folder(path: str | os.PathLike[str], what: str) -> Path:
    """Create folder ``path`` if missing and check that files can be written in it.

    ``what`` names the folder in the errors (e.g. "checkpoint_dir"): a ``NotADirectoryError``
    when ``path`` is a file, a ``PermissionError`` (or the ``OSError``) naming ``path`` when
    it cannot be created or written in.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{what} {folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _temporary(folder / "write-probe").unlink()
    except OSError as err:
        raise type(err)(err.errno, f"{what} {folder} is not writable ({err.strerror})") from None
    return folder


def try_lock(lock: str | os.PathLike[str]) -> int | None:
    """Take the exclusive lock ``lock`` (a file, created if missing) without waiting.

    Returns the open descriptor (give it to :func:`release_lock`), or None when another
    process (or another descriptor of this one) holds it. The file then holds
    ``"<pid> <host>"`` of this process.
    """
    lock = Path(lock)
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        # A holder that released meanwhile unlinked the file: this lock is on an orphan, and
        # a third process may lock the new file of that name. Try again on the new one.
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = os.read(fd, 256).decode(errors="replace").split()
    if previous:  # its holder died holding it (a release unlinks the file)
        warnings.warn(f"took over the lock {lock} left by pid {' on '.join(previous[:2])} "
                      "(the process is gone)", stacklevel=2)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {_HOST}\n".encode(), 0)
    return fd


def release_lock(lock: str | os.PathLike[str], fd: int) -> None:
    """Release a lock taken by :func:`try_lock` (its file is removed)."""
    Path(lock).unlink(missing_ok=True)  # before closing: nobody locks the old file after us
    os.close(fd)


@contextlib.contextmanager
def locked(lock: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the lock ``lock`` for the ``with`` block; :class:`FolderInUseError` at once when
    another process holds it, naming ``what`` (the folder it guards) and the holder's pid."""
    fd = try_lock(lock)
    if fd is None:
        holder: list[str] = []
        with contextlib.suppress(OSError):
            holder = Path(lock).read_text().split()
        holder_text = f"pid {' on '.join(holder[:2])}" if holder else "another process"
        raise FolderInUseError(
            f"{what} is in use by {holder_text} (lock {lock}); wait for it to finish or use "
            "another folder"
        )
    try:
        yield
    finally:
        release_lock(lock, fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
