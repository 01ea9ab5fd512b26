"""pynwb writes a cache folder under the user's cache home when it is imported; where that home cannot
be written (a cluster account, a container run as nobody, $HOME not a folder), the import, and so every
command down to `--version`, would die with a traceback.

`import_pynwb_where_it_can_cache` imports pynwb with its cache in the temporary folder in that case, and
leaves the environment as it found it (the project's own cache then refuses in one line where it is
needed, naming the folder and `--cache-dir`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from pathlib import Path


def cache_home() -> Path | None:
    """The user's cache home ($XDG_CACHE_HOME, else ~/.cache), or None when there is no home at all."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"])
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # no HOME and no password entry
        return None


def is_writable_folder(path: Path | None) -> bool:
    """Whether `path` is (or can be made) a folder this process can write in."""
    if path is None:
        return False
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def import_pynwb_where_it_can_cache() -> None:
    """Import pynwb now if the cache home cannot be written, with its cache in the temporary folder;
    otherwise do nothing (pynwb is imported on first use, as before)."""
    if is_writable_folder(cache_home()):
        return
    elsewhere = Path(tempfile.gettempdir()) / f"nwb-v1former-cache-{os.getuid()}"
    with _environment(XDG_CACHE_HOME=str(elsewhere)):
        importlib.import_module("pynwb")


@contextlib.contextmanager
def _environment(**values: str):
    """Environment variables set inside the block, restored after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
