"""h5py mutations of copied NWB files: each hostile input is one real change to a real file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

RESPONSES = "processing/ophys/Fluorescence/RoiResponseSeries1"
ROI_TABLE = "processing/ophys/ImageSegmentation/PlaneSegmentation1"
MOVIE = "acquisition/stimulus_movie"
RUNNING = "processing/behavior/BehavioralTimeSeries/treadmill_velocity"
QUICK = ["--max-epochs", "1", "--window", "60", "--warmup-steps", "5", "--quiet", "--no-report"]
"""finetune options for a one-epoch run on the small session."""


def mutated(source: Path, path: Path, mutate: Callable[[h5py.File], None]) -> Path:
    """A copy of `source` at `path`, changed in place by `mutate(handle)` (h5py, mode r+)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    with h5py.File(path, "r+") as handle:
        mutate(handle)
    return path


def corrupt_chunk(path: Path, dataset: str, chunk: int) -> Path:
    """Overwrite bytes in the middle of one gzip chunk of `dataset`, at its offset in the file."""
    with h5py.File(path, "r") as handle:
        assert handle[dataset].compression == "gzip"
        info = handle[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as file:
        file.seek(info.byte_offset + info.size // 2)
        file.write(b"\xff" * min(64, info.size // 2))
    return path


def replace_dataset(handle: h5py.File, name: str, data: np.ndarray) -> None:
    """Swap a dataset's contents for `data` of any shape, keeping its attributes (NWB type, unit...)."""
    attributes = dict(handle[name].attrs)
    del handle[name]
    handle.create_dataset(name, data=data)
    handle[name].attrs.update(attributes)
