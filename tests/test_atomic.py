"""Outputs appear whole or not at all."""

from __future__ import annotations

import pytest

from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import OutputExistsError


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
