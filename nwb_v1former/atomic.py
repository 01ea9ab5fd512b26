"""Atomic output: write to a temporary sibling, fsync, then rename into place.

A crash or an error while writing never leaves a half-written file or folder under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from nwb_v1former.errors import OutputExistsError


def _fsync_tree(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in paths:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


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
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.stem}.partial-{os.getpid()}{final.suffix}")
    _remove(temporary)
    try:
        yield temporary
        _fsync_tree(temporary)
        if final.is_dir() and not final.is_symlink():
            _remove(final)
        os.replace(temporary, final)
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
