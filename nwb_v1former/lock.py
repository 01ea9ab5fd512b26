"""One writer at a time per output: an exclusive lock on a sibling `.NAME.lock` file.

Two processes writing one target (two `predict --in-place` on one file, two downloads of one asset)
would each start from the same original and the last rename would silently drop the other's work.
The lock makes the second wait for the first (one line on stderr saying for whom), for at most
`$NWB_V1FORMER_LOCK_WAIT` seconds (default 600; 0 refuses at once), then refuse with one line. The
kernel releases the lock when its holder dies, even by SIGKILL, so a lock file left behind is harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from nwb_v1former.errors import ConfigError, OutputExistsError

WAIT_ENV = "NWB_V1FORMER_LOCK_WAIT"
DEFAULT_WAIT_S = 600.0
POLL_S = 0.1


def lock_path(target: Path) -> Path:
    """The lock file of `target`: a dot-file beside it, so folder discovery never takes it as data."""
    return target.with_name(f".{target.name}.lock")


def _wait_s() -> float:
    value = os.environ.get(WAIT_ENV, "")
    try:
        return DEFAULT_WAIT_S if not value else max(0.0, float(value))
    except ValueError:
        raise ConfigError(f"${WAIT_ENV}={value!r} is not a number of seconds; set it to e.g. 600") from None


def _holder(path: Path) -> str:
    """The PID the holder wrote into the lock file, or 'unknown' while it is being written."""
    with contextlib.suppress(OSError, ValueError):
        return str(int(path.read_text()))
    return "unknown"


def _try_lock(path: Path) -> int | None:
    """A descriptor holding the lock on `path`, or None while another process holds it."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:  # the folder cannot be written: one line naming it, as for any output
        raise OSError(error.errno, error.strerror, str(path.parent)) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    try:
        same = os.fstat(descriptor).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # the previous holder removed the file after we opened it: lock the new one
        os.close(descriptor)
        return _try_lock(path)
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(os.getpid()).encode())
    except OSError as error:  # a full disk: one line naming the lock file, not a traceback
        path.unlink(missing_ok=True)  # still held, as when released
        os.close(descriptor)
        raise OSError(error.errno, error.strerror, str(path)) from None
    return descriptor


@contextlib.contextmanager
def exclusive(target: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold the lock of `target` inside the block; wait for another holder (bounded), then refuse.

    `wait=False` refuses at once: for outputs whose writer runs for hours (a training run's folder).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    deadline = time.monotonic() + (_wait_s() if wait else 0.0)
    told = False
    while (descriptor := _try_lock(path)) is None:
        if time.monotonic() >= deadline:
            what_to_do = f"or set ${WAIT_ENV} to wait longer" if wait else "or choose another output"
            raise OutputExistsError(
                f"{target} is being written by process {_holder(path)} (lock {path.name}); "
                f"wait for it to finish, {what_to_do}"
            )
        if not told:
            print(f"waiting for process {_holder(path)}, which is writing {target}", file=sys.stderr)
            told = True
        time.sleep(POLL_S)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: a waiter that opened it retries on the new file
        os.close(descriptor)
