"""Stimulus frames to model input: grayscale, landscape, centre-cropped to 16:9, area-resized to 36 x 64.

Pure numpy; the resize is an exact area average (antialiased for any ratio, identity at 36 x 64).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE

BLANK_VALUE = 128
"""Grey level recorded where no stimulus is on screen (between presentations) or a pixel is NaN."""
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
"""ITU-R 601 luma weights; float32, which keeps uint8 frames in float32 (5x faster than float64)."""


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging each output pixel's share of the input, rows summing to 1."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def centre_crop_16_9(height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns of the largest centred 16:9 region."""
    if width * 9 > height * 16:
        kept = round(height * 16 / 9)
        start = (width - kept) // 2
        return slice(0, height), slice(start, start + kept)
    kept = round(width * 9 / 16)
    start = (height - kept) // 2
    return slice(start, start + kept), slice(0, width)


def _block_means(frames: np.ndarray) -> np.ndarray | None:
    """(k, 36 m, 64 n[, c]) frames -> (k, 36, 64[, c]) float32 means of their m x n blocks (what the
    area-average resize is for whole multiples, as every common 16:9 screen is); None for other sizes.

    Rows then columns are added slice by slice into an accumulator wide enough to be exact (integer for
    integer frames), so no float copy of the full frames is made."""
    k, height, width = frames.shape[:3]
    channels = frames.shape[3:]
    m, n = height // FRAME_SHAPE[0], width // FRAME_SHAPE[1]
    if m == 0 or n == 0 or (height, width) != (m * FRAME_SHAPE[0], n * FRAME_SHAPE[1]):
        return None
    if frames.dtype.kind == "f":
        wide = np.float32
    else:
        wide = np.uint16 if frames.dtype.itemsize == 1 and m * n <= 257 else np.int64  # 257 x 255 < 2^16
    rows = frames.reshape(k * FRAME_SHAPE[0], m, -1)
    total = rows[:, 0].astype(wide)
    for row in range(1, m):
        total += rows[:, row]
    columns = total.reshape(k * FRAME_SHAPE[0], FRAME_SHAPE[1], n, *channels)
    blocks = columns[:, :, 0].copy()
    for column in range(1, n):
        blocks += columns[:, :, column]
    return blocks.reshape(k, *FRAME_SHAPE, *channels).astype(np.float32) / np.float32(m * n)


@dataclass
class FrameProcessor:
    """Maps raw frames (k, a, b[, channels]) of one stimulus source to (k, 36, 64) uint8.

    Non-finite pixels of float movies become grey (BLANK_VALUE) rather than an undefined cast; how many
    is counted in `bad_pixels` / `bad_frames` and reported by `transforms`. Threads may call it at once.
    """

    transpose: bool
    colour: bool
    value_scale: float
    rows: slice
    columns: slice
    row_weights: np.ndarray
    column_weights: np.ndarray
    bad_pixels: int = 0
    bad_frames: int = 0
    _counting: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def for_frames(cls, sample: np.ndarray) -> FrameProcessor:
        """Decide every transform from a sample block of raw frames (k, a, b[, c])."""
        colour = sample.ndim == 4 and sample.shape[-1] in (3, 4)
        height, width = sample.shape[1:3]
        transpose = height > width  # screens are landscape: a portrait frame is stored (x, y)
        if transpose:
            height, width = width, height
        value_scale = 255.0 if sample.dtype.kind == "f" and np.nanmax(sample) <= 1.0 else 1.0
        rows, columns = centre_crop_16_9(height, width)
        return cls(
            transpose=transpose,
            colour=colour,
            value_scale=value_scale,
            rows=rows,
            columns=columns,
            row_weights=area_weights(rows.stop - rows.start, FRAME_SHAPE[0]).astype(np.float32),
            column_weights=area_weights(columns.stop - columns.start, FRAME_SHAPE[1]).astype(np.float32),
        )

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(k, a, b[, c]) raw -> (k, 36, 64) uint8."""
        frames = np.asarray(frames)
        if frames.dtype.kind == "f":
            bad = ~np.isfinite(frames)
            if bad.any():
                with self._counting:
                    self.bad_pixels += int(bad.sum())
                    self.bad_frames += int(bad.reshape(len(frames), -1).any(axis=1).sum())
                frames = np.where(bad, BLANK_VALUE / self.value_scale, frames)
        if self.transpose:
            frames = frames.swapaxes(1, 2)
        frames = (
            frames[:, self.rows, self.columns, ..., :3] if self.colour else frames[:, self.rows, self.columns]
        )
        reduced = _block_means(frames)
        if reduced is None:  # a size that is not a whole multiple of 36 x 64: weighted area sums
            frames = (frames @ _LUMA if self.colour else frames).astype(np.float32)
            reduced = np.einsum(
                "ia,kab,jb->kij", self.row_weights, frames, self.column_weights, optimize=True
            )
        elif self.colour:  # luma and area means are both linear: the small frames' luma is the same
            reduced = reduced @ _LUMA
        return np.clip(np.rint(reduced * np.float32(self.value_scale)), 0, 255).astype(np.uint8)

    def transforms(self, raw_shape: tuple[int, ...]) -> list[str]:
        """Human-readable list of what was done, for meta.json."""
        done = []
        if self.colour:
            done.append("colour to grayscale (ITU-R 601 luma)")
        if self.transpose:
            done.append("frames stored portrait (x, y): transposed to landscape")
        if self.value_scale != 1.0:
            done.append("float values in [0, 1] scaled to 0-255")
        if self.bad_pixels:
            done.append(
                f"{self.bad_pixels} NaN or infinite pixels in {self.bad_frames} frames set to grey "
                f"({BLANK_VALUE})"
            )
        height = self.rows.stop - self.rows.start
        width = self.columns.stop - self.columns.start
        size = tuple(raw_shape[1:3][::-1] if self.transpose else raw_shape[1:3])
        if (height, width) != size:
            done.append(f"centre crop {size[0]}x{size[1]} to 16:9 ({height}x{width})")
        if (height, width) != FRAME_SHAPE:
            done.append(f"area-average resize {height}x{width} to 36x64")
        return done
