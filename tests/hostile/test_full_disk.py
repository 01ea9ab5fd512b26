"""#29.2: a really full disk (a small tmpfs, not `ulimit -f`) is one line and leaves nothing behind.

Before, `convert --out` onto it and `predict` with TMPDIR on it died by SIGBUS (memory-mapped writes
into sparse files), and `simulate` and `finetune` raised an ENOSPC traceback writing their lock file.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile.checks import QUICK, assert_refused, cli_process, snapshot

FULL = "No space left on device"


def _mount(folder: Path, size: str) -> None:
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=False)
    if done.returncode:
        pytest.skip("this machine does not let the tests mount a tmpfs (no CAP_SYS_ADMIN)")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB filesystem: an NWB file's store does not fit on it."""
    folder = tmp_path / "small-disk"
    _mount(folder, "256k")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def full_disk(small_disk: Path) -> Path:
    """The small filesystem with no byte left."""
    descriptor = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match=FULL):
            while True:
                os.write(descriptor, b"\0" * 4096)
    finally:
        os.close(descriptor)
    return small_disk


def _leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in keep)


def test_convert_onto_a_disk_too_small_is_one_line(source: Path, small_disk: Path) -> None:
    before = snapshot(source)
    result = cli_process("convert", source, "--out", small_disk / "store", "--quiet")
    assert_refused(result, str(small_disk / "store"), FULL)
    assert _leftovers(small_disk) == [] and snapshot(source) == before


def test_predict_onto_a_full_disk_is_one_line(
    source: Path, checkpoint: Path, full_disk: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(full_disk))  # nor is there room for temporary files
    out = full_disk / "predictions.nwb"
    before = snapshot(source)
    assert_refused(cli_process("predict", checkpoint, source, "--out", out, "--quiet"), FULL)
    assert _leftovers(full_disk, "filler") == [] and snapshot(source) == before


@pytest.mark.parametrize("command", ["simulate", "finetune"])
def test_outputs_whose_lock_file_cannot_be_written_are_one_line(
    command: str, source: Path, base: Path, full_disk: Path
) -> None:
    out = full_disk / "out"
    args = {
        "simulate": ("simulate", "--out", out, "--neurons", "5", "--minutes", "3", "--quiet"),
        "finetune": ("finetune", source, "--out", out, "--from", base, *QUICK),
    }[command]
    assert_refused(cli_process(*args), FULL)
    assert _leftovers(full_disk, "filler") == []
