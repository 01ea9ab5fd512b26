"""Bulk data of a Sensorium folder streamed one trial file at a time (GenericDataChunkIterators)."""

from __future__ import annotations

import numpy as np
from hdmf.data_utils import GenericDataChunkIterator

from nwb_v1former.sources.sensorium.folder import (
    RESPONSE_CHUNK_NEURONS,
    STREAM_CHUNKS,
    SensoriumFolder,
    load_npy,
)


class _TrialStream(GenericDataChunkIterator):
    """Valid frames of every trial, time first, in temporal order, reading one trial file at a time.

    Memory holds one read buffer and one trial, whatever the number of trials.
    """

    kind = "responses"

    def __init__(self, folder: SensoriumFolder, sample_shape: tuple[int, ...], dtype, chunk, **options):
        self._folder, self._sample_shape, self._dtype = folder, tuple(sample_shape), np.dtype(dtype)
        self._ends = np.cumsum(folder.valid_frames)
        self._cached: tuple[int, np.ndarray | None] = (-1, None)
        total = int(self._ends[-1])
        frames, per_buffer = STREAM_CHUNKS[self.kind if self.kind != "pupil_center" else "behavior"]
        chunk_shape = (min(frames, total), *(min(c, s) for c, s in zip(chunk, sample_shape, strict=True)))
        buffer_shape = (min(chunk_shape[0] * per_buffer, total), *sample_shape)
        super().__init__(chunk_shape=chunk_shape, buffer_shape=buffer_shape, **options)

    def _read(self, array: np.ndarray, valid: int) -> np.ndarray:
        """The trial's valid frames, time first, from its (memory-mapped) file."""
        raise NotImplementedError

    def _trial(self, position: int) -> np.ndarray:
        if self._cached[0] != position:
            array = load_npy(self._folder.path(self.kind, position), mmap=True)
            self._cached = (position, self._read(array, int(self._folder.valid_frames[position])))
        return self._cached[1]

    def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
        start, stop = int(selection[0].start or 0), int(selection[0].stop)
        pieces, position = [], int(np.searchsorted(self._ends, start, side="right"))
        while start < stop:
            end = int(self._ends[position])
            first = end - int(self._folder.valid_frames[position])
            block = self._trial(position)[start - first : min(stop, end) - first]
            pieces.append(block[(slice(None), *selection[1:])])
            start, position = min(stop, end), position + 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _get_maxshape(self) -> tuple[int, ...]:
        return (int(self._ends[-1]), *self._sample_shape)

    def _get_dtype(self) -> np.dtype:
        return self._dtype


class VideoStream(_TrialStream):
    """(frames, height, width) uint8 from data/videos/<n>.npy (height, width, frames)."""

    kind = "videos"

    def __init__(self, folder: SensoriumFolder, **options):
        super().__init__(folder, folder.frame_shape, np.uint8, folder.frame_shape, **options)

    def _read(self, array: np.ndarray, valid: int) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(array[:, :, :valid]).transpose(2, 0, 1)).astype(np.uint8)


class ResponseStream(_TrialStream):
    """(frames, neurons) float32 of some neuron rows, from data/responses/<n>.npy (neurons, frames)."""

    kind = "responses"

    def __init__(self, folder: SensoriumFolder, rows: np.ndarray, **options):
        contiguous = np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows)))
        self._rows = slice(int(rows[0]), int(rows[0]) + len(rows)) if contiguous else rows
        super().__init__(folder, (len(rows),), np.float32, (RESPONSE_CHUNK_NEURONS,), **options)

    def _read(self, array: np.ndarray, valid: int) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(array[self._rows, :valid], dtype=np.float32).T)


class BehaviorStream(_TrialStream):
    """One row of data/behavior (frames,) or both rows of data/pupil_center (frames, 2), float32."""

    def __init__(self, folder: SensoriumFolder, kind: str, row: int | None, **options):
        self.kind, self._row = kind, row
        shape = () if row is not None else (2,)
        super().__init__(folder, shape, np.float32, shape, **options)

    def _read(self, array: np.ndarray, valid: int) -> np.ndarray:
        rows = slice(None) if self._row is None else self._row
        return np.ascontiguousarray(np.asarray(array[rows, :valid], dtype=np.float32).T)
