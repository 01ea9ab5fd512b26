"""Predictions on the model's 30 Hz ticks -> one plane's rows at its own imaging times, streamed.

Blocks of ticks arrive in order; each imaging frame is written as soon as the ticks around it have
arrived, so memory holds one block and one HDF5 chunk row, whatever the session's length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nwb_v1former.errors import ConfigError

TIME_TOLERANCE_S = 1e-6
"""A frame within this of a tick counts as on it (float rounding of the two clocks)."""


class FrameStream:
    """Linear interpolation of tick blocks onto imaging frames, rows written to `dataset` in order.

    Frame m at time t gets (1 - w) * p[k] + w * p[k + 1], k the last tick at or before t and
    w = (t - tick[k]) / (tick[k + 1] - tick[k]). Frames before the first predicted tick, after the
    last one, or beside a tick that never arrived (a gap between blocks) get NaN.
    `dataset` is anything that takes `dataset[a:b] = rows (b - a, n)`; rows go out `block_rows` at a
    time (pass a whole number of HDF5 chunks, so no chunk is compressed twice).
    """

    def __init__(
        self,
        dataset,
        frame_times: np.ndarray,
        tick_times: np.ndarray,
        columns: slice,
        *,
        block_rows: int,
    ) -> None:
        self.dataset = dataset
        self.columns = columns
        self.block_rows = block_rows
        self.n_ticks = len(tick_times)
        left = np.searchsorted(tick_times, frame_times + TIME_TOLERANCE_S, side="right") - 1
        inside = left >= 0
        right = np.minimum(left + 1, self.n_ticks - 1)
        span = tick_times[right] - tick_times[np.maximum(left, 0)]
        offset = frame_times - tick_times[np.maximum(left, 0)]
        weight = np.where(span > 0, offset / np.where(span > 0, span, 1.0), 0.0)
        weight[offset <= TIME_TOLERANCE_S] = 0.0
        needed = np.where(weight > 0, left + 1, left)
        beyond = (left == self.n_ticks - 1) & (offset > TIME_TOLERANCE_S)
        needed[beyond] = self.n_ticks  # never arrives: NaN at `finish`
        self.left = np.where(inside, left, -1)
        self.weight = weight.astype(np.float32)[:, None]
        self.needed = needed  # non-decreasing: the last tick each frame waits for (-1: none)
        self.next_frame = 0
        self.previous: tuple[int, np.ndarray] | None = None
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0
        self.written = 0
        self.predicted = 0

    def add(self, first_tick: int, block: np.ndarray) -> None:
        """Take predictions (n, N) of ticks [first_tick, first_tick + n); write every frame they settle."""
        values = np.asarray(block, np.float32)[:, self.columns]
        if self.previous is not None and first_tick <= self.previous[0]:
            raise ConfigError(
                f"prediction blocks must come in tick order without overlap: a block starts at tick "
                f"{first_tick} after one that ended at tick {self.previous[0]}"
            )
        if first_tick < 0 or first_tick + len(values) > self.n_ticks:
            raise ConfigError(
                f"a prediction block covers ticks {first_tick}-{first_tick + len(values) - 1}, outside the "
                f"{self.n_ticks} ticks of the session"
            )
        window, window_first = values, first_tick
        if self.previous is not None and self.previous[0] == first_tick - 1:
            window, window_first = np.concatenate([self.previous[1][None], values]), first_tick - 1
        last_tick = first_tick + len(values) - 1
        stop = int(np.searchsorted(self.needed, last_tick, side="right"))
        frames = slice(self.next_frame, stop)
        rows = np.full((stop - self.next_frame, values.shape[1]), np.nan, np.float32)
        left = self.left[frames]
        known = left >= window_first
        low = left[known] - window_first
        high = np.minimum(low + 1, len(window) - 1)
        weight = self.weight[frames][known]
        rows[known] = (1 - weight) * window[low] + weight * window[high]
        self.predicted += int(known.sum())
        self.previous = (last_tick, values[-1].copy())
        self.next_frame = stop
        self._emit(rows)

    def finish(self) -> None:
        """NaN for every frame no block settled, then write what is left."""
        remaining = len(self.needed) - self.next_frame
        if remaining:
            width = self.columns.stop - self.columns.start
            self._emit(np.full((remaining, width), np.nan, np.float32))
            self.next_frame = len(self.needed)
        self._write(self.pending)

    def _emit(self, rows: np.ndarray) -> None:
        self.pending.append(rows)
        self.pending_rows += len(rows)
        if self.pending_rows < self.block_rows:
            return
        joined = np.concatenate(self.pending)
        ready = len(joined) - len(joined) % self.block_rows
        self._write([joined[:ready]])
        self.pending = [joined[ready:]]
        self.pending_rows = len(joined) - ready

    def _write(self, parts: Sequence[np.ndarray]) -> None:
        rows = sum(len(part) for part in parts)
        if rows:
            self.dataset[self.written : self.written + rows] = np.concatenate(parts)
            self.written += rows
