"""#28.2: `convert --overwrite` killed while it puts the new dataset in place leaves the old dataset or
the new one, whole, and the next write of that output finishes or undoes the swap.

Each case runs convert in a child process that SIGKILLs itself at one moment of the swap: with the
one-step exchange (Linux's renameat2), and with the fallback that moves the old folder aside first.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from prediction_helpers import simulated_session

from hostile.checks import assert_succeeded, cli, partials, snapshot

_DYING_CONVERT = """
import json, os, shutil, signal, sys
from pathlib import Path
import nwb_v1former.atomic as atomic
from nwb_v1former.cli.main import main

source, out, moment = sys.argv[1:4]
final = Path(out)
rmtree, replace = shutil.rmtree, os.replace

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def dying_rmtree(path, *args, **kwargs):
    name = Path(path).name
    if name.startswith((f".{final.name}.replaced-", f".{final.name}.partial-")) and Path(path).is_dir():
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        if moment.endswith("removing-old") and files and os.path.isdir(final):
            for file in files[: len(files) // 2]:
                file.unlink()
            die()
    rmtree(path, *args, **kwargs)

def dying_replace(first, second, *args, **kwargs):
    replace(first, second, *args, **kwargs)
    if moment == "aside-between-renames" and Path(second).name.startswith(f".{final.name}.replaced-"):
        die()

if moment.startswith("aside"):
    atomic._swap = lambda first, second: False  # a system without a one-step exchange
shutil.rmtree = dying_rmtree
os.replace = dying_replace
main(["convert", source, "--out", out, "--overwrite", "--quiet"], standalone_mode=False)
"""

LOCK = ".dataset.lock"
"""The output's lock file: a killed writer leaves it (the kernel frees the lock), the next one removes it."""
MOMENTS = ("swap-removing-old", "aside-between-renames", "aside-removing-old")


@dataclass(frozen=True)
class Datasets:
    """Two sources, and the dataset `convert` writes from each (a folder, and its files' sha256)."""

    old_source: Path
    new_source: Path
    old_folder: Path
    old: dict[str, str]
    new: dict[str, str]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Datasets:
    root = tmp_path_factory.mktemp("swap")
    old_source, old_store = simulated_session(
        root / "a", "allen", neurons=8, minutes=0.5, clip_seconds=1.0, planes=1
    )
    new_source, new_store = simulated_session(
        root / "b", "allen", neurons=11, minutes=0.5, clip_seconds=1.0, planes=1, seed=8
    )
    old_folder, new_folder = old_store.folder.parent, new_store.folder.parent
    return Datasets(old_source, new_source, old_folder, _contents(old_folder), _contents(new_folder))


def _contents(out: Path) -> dict[str, str]:
    """A dataset file by file: relative path -> sha256."""
    return {str(path.relative_to(out)): digest for path, digest in snapshot(out).items()}


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_kill_in_the_overwrite_swap_leaves_the_old_or_the_new_dataset(
    datasets: Datasets, moment: str, tmp_path: Path
) -> None:
    old, new = datasets.old, datasets.new
    out = tmp_path / "work" / "dataset"
    shutil.copytree(datasets.old_folder, out)
    new_source, old_source = datasets.new_source, datasets.old_source

    child = subprocess.run(
        [sys.executable, "-c", _DYING_CONVERT, str(new_source), str(out), moment],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    left = sorted(path.name for path in out.parent.iterdir() if path.name not in (out.name, LOCK))
    if moment == "aside-between-renames":  # the old dataset moved aside, the new one not yet renamed in
        assert not out.exists() and [name.split("-")[0] for name in left] == [
            ".dataset.partial",
            ".dataset.replaced",
        ]
        assert _contents(out.parent / left[1]) == old and _contents(out.parent / left[0]) == new
    else:  # the new one in place; the old one half removed
        assert _contents(out) == new and len(left) == 1, left

    interrupted_before_rename = not out.exists()
    rerun = cli("convert", old_source, "--out", out, "--overwrite", "--quiet")
    assert_succeeded(rerun)
    for name in left:
        undone = ".replaced-" in name and interrupted_before_rename  # put back: its replacement never came
        done = f"restored {out}: process" if undone else f"removed {out.parent / name}"
        assert done in rerun.stderr, rerun.stderr
    assert _contents(out) == old
    assert [path.name for path in out.parent.iterdir()] == ["dataset"]
    assert not partials(out.parent)
