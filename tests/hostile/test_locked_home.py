"""A home or cache folder the process cannot write (a cluster account, a container run as nobody): the
commands still start, pynwb caches in the temporary folder, and the environment is left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from nwb_builders import write_session

CLI = [sys.executable, "-m", "nwb_v1former"]


def _probe(env: dict[str, str]) -> list[str]:
    """Whether importing the package imported pynwb, and XDG_CACHE_HOME after it."""
    code = "import nwb_v1former, os, sys; print('pynwb' in sys.modules, os.environ.get('XDG_CACHE_HOME'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return result.stdout.split()


def _run(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("where", ["home", "xdg"])
def test_commands_start_where_the_cache_home_cannot_be_written(tmp_path: Path, where: str) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")  # unwritable even for root
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    if where == "home":
        env["HOME"] = str(blocked)
        env.pop("XDG_CACHE_HOME", None)
    else:
        env["XDG_CACHE_HOME"] = str(blocked / "cache")
    version = _run("--version", env=env)
    assert version.returncode == 0 and "Traceback" not in version.stderr, version.stderr
    if where == "home":  # a command that reads NWB works with pynwb's cache elsewhere
        inspected = _run("inspect", write_session(tmp_path / "session.nwb"), env=env)
        assert inspected.returncode == 0 and "Traceback" not in inspected.stderr, inspected.stderr
    else:  # the environment is as it was after the import
        assert _probe(env) == ["True", env["XDG_CACHE_HOME"]]
    assert (tmp_path / "tmp" / f"nwb-v1former-cache-{os.getuid()}").is_dir()  # pynwb's cache went there
    assert blocked.read_text() == "a file where a folder should be"


def test_a_writable_cache_home_is_left_to_pynwb(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    probe = "import nwb_v1former, os, sys; print('pynwb' in sys.modules, os.environ['XDG_CACHE_HOME'])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["False", str(tmp_path / "cache")]  # not imported early, env untouched
    assert not (tmp_path / "tmp" / f"nwb-v1former-cache-{os.getuid()}").exists()
