"""Converted stores compared array by array (a session read two ways must give the same store), and
the hdmf-zarr export that makes a session's second form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hdmf_zarr.nwb import NWBZarrIO
from pynwb import NWBHDF5IO


def export_to_zarr(nwb: Path, store: Path) -> Path:
    """The HDF5 file exported to a Zarr store by hdmf-zarr, as the mindscope migration did: same objects,
    ids and data (copied, not linked), default codecs."""
    store.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(nwb, "r") as source, NWBZarrIO(str(store), mode="w") as target:
        target.export(src_io=source, write_args={"link_data": False})
    return store


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
    """The two stores hold the same arrays, bit for bit and of the same dtypes; returns the first's."""
    first, second = store_arrays(one), store_arrays(other)
    assert first.keys() == second.keys()
    for name in first:
        assert second[name].dtype == first[name].dtype, name
        np.testing.assert_array_equal(second[name], first[name], err_msg=name)
    return first
