"""NWB files in the HDF5 backend (`.nwb`), local or read in place over HTTP, opened with h5py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import h5py

from nwb_v1former.errors import SessionError
from nwb_v1former.nwb.remote import RemoteFile, open_remote

CHUNK_CACHE_BYTES = 16 * 2**20
"""HDF5 chunk cache per open file: h5py's 1 MB default makes windowed movie reads far slower."""


@contextlib.contextmanager
def open_hdf5(source: Path | RemoteFile, **options) -> Iterator[h5py.File]:
    """Open a local or remote HDF5 file read-only; an unreadable one is a SessionError naming it."""
    if isinstance(source, RemoteFile):
        with open_remote(source) as reader, _h5py_file(reader, source, options) as handle:
            yield handle
        return
    if not source.is_file():
        raise SessionError("no such file; give the path of an .nwb file or .nwb.zarr store", where=source)
    with _h5py_file(source, source, options) as handle:
        yield handle


def _h5py_file(file, source: Path | RemoteFile, options: dict) -> h5py.File:
    try:
        return h5py.File(file, "r", **options)
    except OSError as error:
        raise _unreadable(error, source) from None


def _unreadable(error: OSError, source: Path | RemoteFile) -> SessionError:
    return SessionError(
        f"not a readable HDF5 file ({error}); is it truncated or still downloading?", where=source
    )


def hdf5_version(handle: h5py.File, source: Path | RemoteFile) -> str | bytes | None:
    """The NWB schema version the file records, None if it records none."""
    try:
        # NWB 2 keeps the version in a root attribute, NWB 1 in a root dataset.
        version = handle.attrs.get("nwb_version")
        if version is None and "nwb_version" in handle:
            version = handle["nwb_version"][()]
    except OSError as error:
        raise _unreadable(error, source) from None
    return version
