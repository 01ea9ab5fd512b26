"""hdmf-zarr's pickled datasets (object references, compound rows), decoded without running code.

hdmf-zarr stores datasets of objects with numcodecs' Pickle codec unless its writer chose another
(`NWBZarrIO.export` of an HDF5 file does, as the Allen mindscope migration did), and numcodecs refuses to
unpickle them, since a pickle can run any code it names. This codec unpickles only what hdmf-zarr
writes there (numpy arrays and scalars of plain values, hdmf-zarr's `ZarrReference` dicts) and refuses
anything else; registered in numcodecs' place, it changes decoding only (encoding is numcodecs' own),
and a process that opted in to numcodecs' unrestricted decoding keeps it.
"""

from __future__ import annotations

import io
import pickle

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


def register_plain_pickle() -> None:
    """Decode hdmf-zarr's pickled datasets from now on, in this process (idempotent)."""
    numcodecs.register_codec(PlainPickle)
