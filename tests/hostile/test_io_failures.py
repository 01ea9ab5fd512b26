"""#19 point 6: damaged chunks, a full disk, read-only targets: one line (file, object, what to do)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile.checks import assert_refused, cli, cli_process, partials, snapshot
from hostile.mutations import MOVIE, QUICK, RESPONSES, corrupt_chunk, mutated


def _damaged(session, folder: Path, dataset: str, chunk: int) -> Path:
    return corrupt_chunk(mutated(session.nwb, folder / "damaged.nwb", lambda handle: None), dataset, chunk)


@pytest.mark.parametrize(("dataset", "chunk", "named"), [(RESPONSES, 0, RESPONSES), (MOVIE, 5, MOVIE)])
def test_a_damaged_chunk_is_one_line_for_convert_finetune_and_predict(
    session, tmp_path: Path, dataset: str, chunk: int, named: str
) -> None:
    nwb = _damaged(session, tmp_path / "in", f"{dataset}/data", chunk)
    before = snapshot(nwb)
    commands = {
        "convert": ["convert", nwb, "--out", tmp_path / "store", "--quiet"],
        "finetune": ["finetune", nwb, "--out", tmp_path / "run", "--from", session.checkpoint, *QUICK],
        "predict": ["predict", session.checkpoint, nwb, "--out", tmp_path / "out.nwb", "--quiet"],
    }
    for args in commands.values():
        assert_refused(cli(*args), str(nwb), f"/{named}", "cannot be read", "damaged")
    assert not (tmp_path / "store").exists() and not (tmp_path / "out.nwb").exists()
    assert not (tmp_path / "run" / "best.ckpt").exists()
    assert snapshot(nwb) == before and not partials(tmp_path)


def test_inspect_lists_a_damaged_chunk_as_a_problem(session, tmp_path: Path) -> None:
    nwb = _damaged(session, tmp_path / "in", f"{MOVIE}/data", 5)
    result = cli("inspect", nwb)
    assert "problems: none" not in result.output
    assert f"/{MOVIE} (frames" in result.output and "cannot be read" in result.output


def test_a_full_disk_is_one_line_naming_the_output(session, tmp_path: Path) -> None:
    """A 1 MB file-size limit (ulimit -f): the store's movie cannot be written, nor predict's scratch
    store (in TMPDIR, which the line names as the place to change)."""
    before = snapshot(session.nwb)
    store = tmp_path / "store"
    result = cli_process("convert", session.nwb, "--out", store, "--quiet", file_size_limit=2**20)
    assert_refused(result, str(tmp_path / "store"), "cannot be written", "file size limit")
    out = tmp_path / "predicted.nwb"
    result = cli_process(
        "predict", session.checkpoint, session.nwb, "--out", out, "--quiet", file_size_limit=2**20
    )
    assert_refused(result, "cannot be written", "file size limit", "TMPDIR")
    assert not (tmp_path / "store").exists() and not out.exists()
    assert snapshot(session.nwb) == before and not partials(tmp_path)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only for this process: chmod 0o555, or for root (who ignores permission bits)
    the immutable attribute, which root's writes obey too."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode:
        pytest.skip("running as root without chattr +i: no folder is read-only to this process")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_target_is_refused_before_any_work(session, tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    nwb = Path(shutil.copy(session.nwb, folder / "session.nwb"))
    checkpoint = Path(shutil.copy(session.checkpoint, folder / "micro.ckpt"))
    before = snapshot(folder)
    commands = [
        ["convert", nwb, "--out", folder / "store", "--quiet"],
        ["predict", checkpoint, nwb, "--in-place", "--quiet"],
        ["finetune", nwb, "--out", folder / "run", "--from", checkpoint, *QUICK],
        ["predict", checkpoint, nwb, "--out", folder / "outputs" / "out.nwb", "--quiet"],
    ]
    with read_only(folder):
        for args in commands:
            assert_refused(cli(*args), str(folder), "not writable")
    assert snapshot(folder) == before and not partials(tmp_path)


def test_an_immutable_source_is_refused_for_in_place_before_any_work(session, tmp_path: Path) -> None:
    nwb = Path(shutil.copy(session.nwb, tmp_path / "session.nwb"))
    if subprocess.run(["chattr", "+i", str(nwb)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not possible here (needs root and a file system with attributes)")
    try:
        before = snapshot(nwb)
        assert_refused(
            cli("predict", session.checkpoint, nwb, "--in-place", "--quiet"), str(nwb), "immutable", "--out"
        )
        assert snapshot(nwb) == before and not partials(tmp_path)
    finally:
        subprocess.run(["chattr", "-i", str(nwb)], check=True)
