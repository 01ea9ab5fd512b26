"""Converted stores compared array by array (a session read two ways must give the same store)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def store_arrays(folder: Path) -> dict[str, np.ndarray]:
    """Every array of a store folder, by file and name."""
    arrays = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".npy":
            arrays[path.name] = np.load(path)
        elif path.suffix == ".npz":
            with np.load(path) as archive:
                arrays.update({f"{path.name}:{key}": archive[key] for key in archive.files})
    return arrays


def assert_same_arrays(one: Path, other: Path) -> dict[str, np.ndarray]:
    """The two stores hold the same arrays, bit for bit; returns the first's."""
    first, second = store_arrays(one), store_arrays(other)
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(second[name], first[name], err_msg=name)
    return first
