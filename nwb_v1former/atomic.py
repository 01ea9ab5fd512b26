"""Atomic output: write to a temporary sibling, fsync, then rename into place, one writer at a time.

A crash or an error while writing never leaves a half-written file or folder under the final name.
The temporary sibling is `.<stem>.partial-<pid><suffix>`; one left by a process that was killed is
removed (with a line on stderr) by the next write of the same output. A folder replaces an earlier one
by swapping the two in one step where the system can (Linux's renameat2), else by removing the old one
first; an in-place write of a folder (`require_swap`) is refused where it cannot. `--overwrite`
replaces only an output of the kind the command writes (`OutputKind`), never a source or anything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nwb_v1former.errors import ConfigError, OutputError, OutputExistsError, detail
from nwb_v1former.lock import exclusive

_WRITE_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or choose another output",
    errno.EDQUOT: "the disk quota is used up: free space or choose another output",
    errno.EFBIG: "a file size limit was reached: raise it (ulimit -f) or choose another output",
    errno.EACCES: "it is not writable: choose another output or fix its permissions",
    errno.EPERM: "it is not writable (read-only or immutable): choose another output",
    errno.EROFS: "it is on a read-only file system: choose another output",
}


@dataclass(frozen=True)
class OutputKind:
    """A kind of output this tool writes, and how to recognise one it wrote (all `--overwrite` may replace).

    `description` completes "... is not <description>"; `recognise(path)` is True for such an output.
    """

    description: str
    recognise: Callable[[Path], bool]


def visible_entries(folder: Path) -> list[Path]:
    """The entries of `folder` a user sees: dot-files (partial writes, locks) left out."""
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")]


def folder_kind(description: str, holds_only_ours: Callable[[Path], bool]) -> OutputKind:
    """The kind of a folder this tool writes: a real folder (not a link) with nothing visible in it, or one
    `holds_only_ours` accepts, which should judge every visible entry, not look for one marker (a folder
    with a marker and a user's file beside it is the user's)."""

    def recognise(path: Path) -> bool:
        if not path.is_dir() or path.is_symlink():
            return False
        return not visible_entries(path) or holds_only_ours(path)

    return OutputKind(description, recognise)


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
    return OutputError(f"cannot be written ({error.strerror or detail(error)}); {advice}", where=path)


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


def check_writable(path: Path, overwrite: bool, kind: OutputKind | None = None) -> None:
    """Refuse an existing output unless `overwrite`, and with it anything that is not a `kind` output."""
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another output or pass --overwrite")
    if kind is not None and not kind.recognise(path):
        raise OutputExistsError(
            f"{path} is not {kind.description}, so --overwrite does not replace it; choose another output"
        )


def check_apart(out: str | os.PathLike, sources: Iterable[str | os.PathLike]) -> None:
    """Refuse an output that equals, contains or sits inside a local source (before any work)."""
    final = Path(out).resolve()
    for source in sources:
        real = Path(source).resolve()
        if final == real or real.is_relative_to(final) or final.is_relative_to(real):
            raise ConfigError(
                f"the output would equal, contain or sit inside the source {source}; "
                "choose an output outside every source",
                where=out,
            )


def in_place_target(path: str | os.PathLike) -> Path:
    """The file an in-place write must replace: through a symlink, its target; a hard link is refused.

    Renaming a new file over a symlink would turn the link into a copy and leave its target unchanged;
    over one name of a hard-linked file, it would detach that name and leave the others unchanged.
    """
    target = Path(path).resolve()
    if ".git" in target.parts and "annex" in target.parts:
        raise ConfigError(
            f"{path} is a git-annex (DataLad) file, whose content is read-only and named by its digest; "
            "run `git annex unlock` (or `datalad unlock`) on it first, or write with --out"
        )
    links = target.stat().st_nlink if target.is_file() else 1
    if links > 1:
        raise ConfigError(
            f"{path} has {links} hard links; writing in place would change it under one name only: "
            "write with --out, or make it a file of its own first (cp, then mv over it)"
        )
    return target


def partial_path(final: Path, pid: int) -> Path:
    """The temporary sibling process `pid` writes `final` into."""
    return final.with_name(f".{final.stem}.partial-{pid}{final.suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def aside_path(final: Path, pid: int) -> Path:
    """Where process `pid` moves the old `final` while it renames the new one in (no one-step swap)."""
    return final.with_name(f".{final.stem}.replaced-{pid}{final.suffix}")


def _left_by_killed(final: Path, what: str) -> Iterator[tuple[Path, str]]:
    """The `what` siblings of `final` (`partial`, `replaced`) whose process no longer runs, and its pid."""
    pattern = re.compile(re.escape(f".{final.stem}.{what}-") + r"(\d+)" + re.escape(final.suffix))
    if not final.parent.is_dir():
        return
    for candidate in sorted(final.parent.iterdir()):
        match = pattern.fullmatch(candidate.name)
        if match and int(match[1]) != os.getpid() and not _alive(int(match[1])):
            yield candidate, match[1]


def remove_stale_partials(final: Path) -> None:
    """Clean up after writers of `final` that were killed, one line each: their temporary siblings are
    removed, and an old output moved aside is put back if its replacement never arrived (else removed)."""
    for candidate, pid in _left_by_killed(final, "replaced"):
        if final.exists() or final.is_symlink():
            _remove(candidate)
            print(f"removed {candidate}, the output replaced by process {pid}", file=sys.stderr)
        else:
            os.replace(candidate, final)
            print(f"restored {final}: process {pid} was killed while replacing it", file=sys.stderr)
    for candidate, pid in _left_by_killed(final, "partial"):
        _remove(candidate)
        print(f"removed {candidate}, left by process {pid}, which was killed", file=sys.stderr)


SCRATCH_PREFIX = "nwb-v1former-"
"""How this tool's temporary folders in TMPDIR are named: `nwb-v1former-<job>-<pid>-<random>`."""


@contextlib.contextmanager
def scratch_folder(job: str) -> Iterator[Path]:
    """A private temporary folder in TMPDIR for `job` (e.g. "predict"), removed on the way out, also on
    Ctrl-C and SIGTERM. Those that processes of the same job left when killed are removed first, one line
    each (another user's, which cannot be removed, are left alone)."""
    prefix = f"{SCRATCH_PREFIX}{job}-"
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[^/]+")
    for candidate in sorted(Path(tempfile.gettempdir()).glob(f"{prefix}*")):
        match = pattern.fullmatch(candidate.name)
        if match and int(match[1]) != os.getpid() and not _alive(int(match[1])):
            with contextlib.suppress(PermissionError):
                _remove(candidate)
                print(f"removed {candidate}, left by process {match[1]}, which was killed", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike, *, overwrite: bool = False, kind: OutputKind | None = None
) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path`, on error it is removed.

    Works for a file or a folder (whatever the caller creates at the yielded path). The output is
    locked for the whole write (see nwb_v1former.lock); `kind` limits what `overwrite` may replace.
    """
    final = Path(path)
    check_writable(final, overwrite, kind)
    require_writable(final.parent)
    with exclusive(final):
        check_writable(final, overwrite, kind)  # it may have appeared while we waited
        remove_stale_partials(final)
        temporary = partial_path(final, os.getpid())
        _remove(temporary)
        try:
            yield temporary
            _fsync_tree(temporary)
            _put_in_place(temporary, final)
        except OSError as error:
            failure = write_failure(final, error)
            if failure is None:
                raise
            raise failure from None
        finally:
            _remove(temporary)


def _put_in_place(temporary: Path, final: Path) -> None:
    """Rename `temporary` to `final` so that a kill at any moment leaves the old or the new output whole.

    A file is replaced by one rename. A folder is exchanged with the old one in one step where the system
    can (the old one is then at `temporary`, removed by the caller); elsewhere the old folder is moved
    aside first and removed after, and a writer killed in between has it put back by the next one.
    """
    if not final.is_dir() or final.is_symlink():
        os.replace(temporary, final)
        return
    if _swap(temporary, final):
        return
    aside = aside_path(final, os.getpid())
    os.replace(final, aside)
    os.replace(temporary, final)
    _remove(aside)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_CANNOT_SWAP = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def _swap(first: Path, second: Path) -> bool:
    """Exchange two paths in one step (Linux's renameat2 with RENAME_EXCHANGE); False where the system
    or the file system cannot, an OSError for any other failure."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _CANNOT_SWAP:
        return False
    raise OSError(code, os.strerror(code), str(second))


def require_swap(folder: Path) -> None:
    """Prove that two folders in `folder` can be exchanged in one step (a real attempt on two empty
    folders, removed at once), before an in-place write of a folder: removing the old folder before
    the rename would lose it to a crash in between."""
    first = Path(tempfile.mkdtemp(prefix=".nwb-v1former-probe-", dir=folder))
    second = Path(tempfile.mkdtemp(prefix=".nwb-v1former-probe-", dir=folder))
    try:
        swapped = _swap(first, second)
    finally:
        first.rmdir()
        second.rmdir()
    if not swapped:
        raise OutputError(
            "cannot replace a folder in one step on this system or file system, so it is not changed in "
            "place; write a copy with --out",
            where=folder,
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
