"""HDF5 or Zarr: what writing into a copy of an NWB file needs from the file's backend.

`predict` and the in-silico tables change a copy of the file and rename it into place
(nwb_v1former.atomic). The copy keeps the source's backend, so whatever read the source reads the
result: a `.nwb` file is copied as a file and appended to with NWBHDF5IO, a `.nwb.zarr` store as a
folder with hdmf-zarr's NWBZarrIO. Predictions go into an empty float32 dataset the module is written
with, filled as they arrive.
"""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager
from pathlib import Path

import h5py
import numcodecs
import numpy as np
import zarr
from hdmf.backends.io import HDMFIO
from hdmf.data_utils import DataChunkIterator, DataIO
from hdmf_zarr import ZarrDataIO
from pynwb import NWBHDF5IO, H5DataIO

from nwb_v1former.nwb.zarr_files import ZARR_SUFFIX, is_zarr_store, nwb_zarr_io, zarr_root

GROUPS = (h5py.Group, zarr.Group)
"""A group of either backend, as `root` returns them."""


class Hdf5Backend:
    """A `.nwb` file: h5py, NWBHDF5IO; predictions in gzip chunks (level 4) after byte shuffling, about
    twice as fast as gzip alone on float32 and smaller (~0.7 of the raw size)."""

    name = "HDF5"
    suffix = ".nwb"

    def holds(self, path: Path) -> bool:
        return path.is_file()

    def copy(self, source: Path, target: Path) -> None:
        shutil.copyfile(source, target)

    def root(self, path: Path, mode: str = "r") -> AbstractContextManager[h5py.File]:
        return h5py.File(path, mode)

    def io(self, path: Path, mode: str) -> HDMFIO:
        """pynwb's IO, `mode` "r" or "a"."""
        return NWBHDF5IO(path, mode, load_namespaces=True)

    def empty_data(self, shape: tuple[int, int], chunks: tuple[int, int]) -> DataIO:
        return H5DataIO(
            shape=shape, dtype=np.float32, chunks=chunks, compression="gzip", compression_opts=4, shuffle=True
        )

    def written(self, io: HDMFIO, data: DataIO, path: str) -> h5py.Dataset:
        """The dataset `empty_data` became once written (at `path` in the file), open to fill."""
        return data.dataset


class ZarrBackend:
    """A `.nwb.zarr` store: zarr, NWBZarrIO; predictions in Blosc zstd chunks after byte shuffling."""

    name = "Zarr"
    suffix = ".nwb.zarr"

    def holds(self, path: Path) -> bool:
        return is_zarr_store(path)

    def copy(self, source: Path, target: Path) -> None:
        shutil.copytree(source, target)

    def root(self, path: Path, mode: str = "r") -> AbstractContextManager[zarr.Group]:
        return zarr_root(path, mode)

    def io(self, path: Path, mode: str) -> HDMFIO:
        """hdmf-zarr's IO, `mode` "r" or "a" (hdmf-zarr's "r+": the store exists)."""
        return nwb_zarr_io(path, "r+" if mode == "a" else mode)

    def empty_data(self, shape: tuple[int, int], chunks: tuple[int, int]) -> DataIO:
        nothing = DataChunkIterator(data=None, maxshape=shape, dtype=np.dtype(np.float32))
        compressor = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        return ZarrDataIO(data=nothing, chunks=chunks, fillvalue=np.nan, compressor=compressor)

    def written(self, io: HDMFIO, data: DataIO, path: str) -> zarr.Array:
        """The array `empty_data` became once written (at `path` in the store), open to fill."""
        return zarr.open_array(str(Path(io.source) / path), mode="r+")


Backend = Hdf5Backend | ZarrBackend
HDF5, ZARR = Hdf5Backend(), ZarrBackend()


def backend_of(path: Path) -> Backend:
    """The backend of an NWB file at `path`, or that an output named `path` would have (*.zarr: Zarr)."""
    return ZARR if is_zarr_store(path) or path.name.lower().endswith(ZARR_SUFFIX) else HDF5
