"""NWB files in the Zarr backend: `.nwb.zarr` folders written by hdmf-zarr, read through NWBZarrIO.

A Zarr store is a folder, so a folder of sessions may hold some: a local path is a Zarr store when its
name ends in `.zarr` or it has Zarr's root metadata, and the store holds an NWB file when its root
group says `neurodata_type: NWBFile`, as hdmf-zarr writes it. hdmf-zarr reads Zarr v2 stores only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import zarr
from hdmf_zarr.nwb import NWBZarrIO

from nwb_v1former.errors import SessionError, detail
from nwb_v1former.nwb import zarr_codecs
from nwb_v1former.nwb.zarr_codecs import register_safe_codecs

ZARR_SUFFIX = ".zarr"
NWB_SUFFIXES = (".nwb", ".nwb.zarr")
"""How an NWB file is named: an HDF5 file `x.nwb`, a Zarr store `x.nwb.zarr`."""
_V3_METADATA = "zarr.json"


def is_zarr_store(path: Path) -> bool:
    """Whether a local path is a Zarr store (a folder named *.zarr, or one with Zarr's root metadata)."""
    return path.is_dir() and (
        path.name.lower().endswith(ZARR_SUFFIX)
        or (path / ".zgroup").is_file()
        or (path / _V3_METADATA).is_file()
    )


def nwb_stem(name: str) -> str:
    """A file's name without its NWB suffix (`x.nwb` and `x.nwb.zarr` -> `x`), else without its last
    suffix, as Path.stem."""
    for suffix in sorted(NWB_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def holds_nwb(path: Path) -> bool:
    """Whether the Zarr store's root group is an NWBFile (its attributes read alone; False if unreadable)."""
    try:
        attributes = json.loads((path / ".zattrs").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(attributes, dict) and attributes.get("neurodata_type") == "NWBFile"


@contextlib.contextmanager
def zarr_root(path: Path, mode: str = "r") -> Iterator[zarr.Group]:
    """The store's root group; one that cannot be opened is a SessionError naming it. Opened to write,
    its consolidated metadata (`.zmetadata`, which hdmf-zarr reads first) is rebuilt on the way out."""
    register_safe_codecs()
    if (path / _V3_METADATA).is_file() and not (path / ".zgroup").is_file():
        raise SessionError(
            "a Zarr v3 store, which hdmf-zarr does not read; export the NWB file to Zarr v2 or HDF5",
            where=path,
        )
    try:
        root = zarr.open_group(str(path), mode=mode)
        root.attrs.asdict()  # its attributes parse, or it is damaged
    except (OSError, ValueError, KeyError) as error:
        raise SessionError(
            f"not a readable Zarr store ({detail(error, 80)}); is it empty, damaged or still downloading?",
            where=path,
        ) from None
    yield root
    if mode != "r" and (path / ".zmetadata").is_file():
        zarr.consolidate_metadata(str(path))


def from_zarr_chunk(error: BaseException) -> bool:
    """Whether an error was raised decoding a chunk (by zarr, one of its numcodecs codecs or this
    project's checked ones: zlib's error, blosc's RuntimeError, a short chunk's ValueError), which means
    a damaged store."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    module = "" if trace is None else str(trace.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in ("zarr", "numcodecs") or module == zarr_codecs.__name__


def nwb_zarr_io(path: Path, mode: str = "r") -> NWBZarrIO:
    """hdmf-zarr's IO on the store, its namespaces loaded and its pickled datasets decodable safely."""
    register_safe_codecs()
    return NWBZarrIO(str(path), mode=mode, load_namespaces=True)
