"""Outputs appear whole or not at all."""

from __future__ import annotations

import sys

import pytest

from nwb_v1former import atomic
from nwb_v1former.atomic import atomic_output, require_swap
from nwb_v1former.errors import OutputError, OutputExistsError


def test_failure_leaves_nothing_and_success_replaces(tmp_path):
    target = tmp_path / "result.nwb"
    with pytest.raises(RuntimeError), atomic_output(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []

    with atomic_output(target) as temporary:
        temporary.write_bytes(b"first")
    with pytest.raises(OutputExistsError, match="--overwrite"), atomic_output(target):
        pass
    with atomic_output(target, overwrite=True) as temporary:
        assert temporary.suffix == ".nwb" and temporary != target
        temporary.write_bytes(b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["result.nwb"]


def test_folders_are_atomic_too(tmp_path):
    target = tmp_path / "store"
    with atomic_output(target) as temporary:
        (temporary / "a").mkdir(parents=True)
        (temporary / "a" / "x.npy").write_bytes(b"1")
    with pytest.raises(ValueError), atomic_output(target, overwrite=True) as temporary:
        temporary.mkdir()
        raise ValueError("bad input")
    assert (target / "a" / "x.npy").read_bytes() == b"1", "a failed overwrite keeps the old output"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_a_folder_is_swapped_in_one_step_where_the_system_can(tmp_path, monkeypatch):
    target = tmp_path / "store.zarr"
    swaps = []
    real_swap = atomic._swap
    monkeypatch.setattr(atomic, "_swap", lambda *paths: swaps.append(real_swap(*paths)) or swaps[-1])
    for content in (b"old", b"new"):
        with atomic_output(target, overwrite=True) as temporary:
            temporary.mkdir()
            (temporary / "x").write_bytes(content)
    assert (target / "x").read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["store.zarr"]
    assert swaps == [True], "the second write swapped the folders (Linux on a local disk)"
    require_swap(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["store.zarr"], "the probe leaves nothing"
    monkeypatch.setattr(atomic, "_swap", lambda first, second: False)
    with pytest.raises(OutputError, match="cannot replace a folder in one step"):
        require_swap(tmp_path)
    with atomic_output(target, overwrite=True) as temporary:  # elsewhere: removed, then renamed
        temporary.mkdir()
        (temporary / "x").write_bytes(b"third")
    assert (target / "x").read_bytes() == b"third"
