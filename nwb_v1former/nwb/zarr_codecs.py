"""numcodecs decoders that a Zarr store's bytes cannot turn against the process reading it.

Registered in numcodecs' place, each changes decoding only (encoding is numcodecs' own):

- **Pickle.** hdmf-zarr stores datasets of objects with numcodecs' Pickle codec unless its writer
  chose another (`NWBZarrIO.export` of an HDF5 file does, as the Allen mindscope migration did), and
  numcodecs refuses to unpickle them, since a pickle can run any code it names. This codec unpickles
  only what hdmf-zarr writes there (numpy arrays and scalars of plain values, hdmf-zarr's
  `ZarrReference` dicts) and refuses anything else. A process that opted in to numcodecs' unrestricted
  decoding keeps it.
- **Blosc.** c-blosc reads as many bytes as a chunk's header says it holds, so a chunk cut short (an
  interrupted download or copy) makes it read past the end of the buffer: a segmentation fault, or
  garbage, depending on what lies there. This codec checks the header against the chunk's length first.
"""

from __future__ import annotations

import io
import pickle
import struct

import numcodecs
import numpy as np
from numcodecs.compat import ensure_contiguous_ndarray

ALLOWED = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "scalar"),
        ("hdmf_zarr.utils", "ZarrReference"),
    }
)
"""The only globals a pickle may name: numpy's array and scalar reconstruction, hdmf-zarr's reference."""


class _PlainUnpickler(pickle.Unpickler):
    """An unpickler that builds plain values and the ALLOWED types, nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(
                f"a pickled {module}.{name} is not what hdmf-zarr writes; it was not unpickled, since that "
                "could run code"
            )
        return super().find_class(module, name)


class PlainPickle(numcodecs.Pickle):
    """numcodecs' Pickle codec, decoding only what hdmf-zarr pickles (see the module's docstring)."""

    def decode(self, buf, out=None):
        if numcodecs.pickles.ALLOW_UNSAFE_PICKLE_DECODE:
            return super().decode(buf, out)
        decoded = _PlainUnpickler(io.BytesIO(ensure_contiguous_ndarray(buf))).load()
        if out is None:
            return decoded
        np.copyto(out, decoded)
        return out


BLOSC_HEADER = struct.Struct("<BBBBIII")
"""c-blosc 1.x's 16-byte chunk header: versions, flags, type size, bytes out, block size, bytes in."""


class CheckedBlosc(numcodecs.Blosc):
    """numcodecs' Blosc codec, decoding only chunks whose header agrees with their length."""

    def decode(self, buf, out=None):
        chunk = ensure_contiguous_ndarray(buf).view("u1")
        if chunk.nbytes < BLOSC_HEADER.size:
            raise ValueError(f"a blosc chunk of {chunk.nbytes} bytes, shorter than its header: cut short")
        *_, stored = BLOSC_HEADER.unpack(chunk[: BLOSC_HEADER.size].tobytes())
        if stored != chunk.nbytes:
            raise ValueError(f"a blosc chunk of {chunk.nbytes} bytes whose header says {stored}: damaged")
        return super().decode(buf, out)


def register_safe_codecs() -> None:
    """Decode Zarr chunks with this module's codecs from now on, in this process (idempotent)."""
    numcodecs.register_codec(PlainPickle)
    numcodecs.register_codec(CheckedBlosc)
