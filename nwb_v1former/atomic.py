"""Atomic output: write to a temporary sibling, fsync, then rename into place.

A crash or an error while writing never leaves a half-written file or folder under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nwb_v1former.errors import OutputError, OutputExistsError, detail

_WRITE_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or choose another output",
    errno.EDQUOT: "the disk quota is used up: free space or choose another output",
    errno.EFBIG: "a file size limit was reached: raise it (ulimit -f) or choose another output",
    errno.EACCES: "it is not writable: choose another output or fix its permissions",
    errno.EPERM: "it is not writable (read-only or immutable): choose another output",
    errno.EROFS: "it is on a read-only file system: choose another output",
}


def _fsync_tree(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in paths:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def write_failure(path: str | os.PathLike, error: OSError) -> OutputError | None:
    """The one line for an OSError that means `path` cannot be written (disk full, read-only, ...);
    None for any other OSError, which is not about writing."""
    advice = _WRITE_ADVICE.get(error.errno)
    if advice is None:
        return None
    return OutputError(f"{path}: cannot be written ({error.strerror or detail(error)}); {advice}")


def require_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be made in it (a real attempt, removed at once),
    so a read-only or immutable target is refused before any work rather than after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".nwb-v1former-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise (write_failure(folder, error) or error) from None


def check_writable(path: Path, overwrite: bool) -> None:
    """Refuse an existing output unless `overwrite`; raises OutputExistsError with the fix."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another output or pass --overwrite")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path`, on error it is removed.

    Works for a file or a folder (whatever the caller creates at the yielded path).
    """
    final = Path(path)
    check_writable(final, overwrite)
    require_writable(final.parent)
    temporary = final.with_name(f".{final.stem}.partial-{os.getpid()}{final.suffix}")
    _remove(temporary)
    try:
        yield temporary
        _fsync_tree(temporary)
        if final.is_dir() and not final.is_symlink():
            _remove(final)
        os.replace(temporary, final)
    except OSError as error:
        failure = write_failure(final, error)
        if failure is None:
            raise
        raise failure from None
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
