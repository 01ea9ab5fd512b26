"""Clocks and values of NWB TimeSeries: rate vs timestamps, starting_time, conversion, offset."""

from __future__ import annotations

import numpy as np
from pynwb.base import TimeSeries

from nwb_v1former.errors import SessionError


def series_times(
    series: TimeSeries, where: str, samples: int | None = None, *, notes: list[str] | None = None
) -> np.ndarray:
    """Time (s) of every sample of `series` on the file's clock; (n,) float64, checked increasing.

    Uses `timestamps` when present (linked timestamps included), else starting_time + k / rate.
    `samples`: how many samples the data holds, where time is not its first axis (a transposed series).
    `notes`: when given, exactly one timestamp more than samples is tolerated (OpenScope's dF/F): the
    first n are used, sample k at timestamp k, and one line saying so is appended; else it is refused.
    """
    n = len(series.data) if samples is None else samples
    if series.timestamps is not None:
        times = np.asarray(series.timestamps[:], dtype=np.float64)
        if notes is not None and len(times) == n + 1:
            notes.append(
                f"{where}: {n + 1} timestamps for {n} samples; sample k at timestamp k, the last one ignored"
            )
            times = times[:n]
        if len(times) != n:
            raise SessionError(
                f"{len(times)} timestamps for {n} samples; the series is damaged or truncated", where=where
            )
    elif series.rate:
        times = float(series.starting_time or 0.0) + np.arange(n, dtype=np.float64) / float(series.rate)
    else:
        raise SessionError("neither timestamps nor a rate; cannot place it in time", where=where)
    check_increasing(times, where)
    return times


def check_increasing(times: np.ndarray, where: str) -> None:
    """SessionError naming the first sample where time does not increase, or non-finite times."""
    if not np.all(np.isfinite(times)):
        raise SessionError(
            f"timestamps contain NaN or infinity at sample {int(np.argmin(np.isfinite(times)))}", where=where
        )
    steps = np.diff(times)
    if np.any(steps <= 0):
        first = int(np.argmax(steps <= 0))
        raise SessionError(
            f"timestamps are not increasing at sample {first + 1} "
            f"({times[first]:.6f} s then {times[first + 1]:.6f} s); fix the file's timestamps",
            where=where,
        )


def scale(series: TimeSeries) -> tuple[float, float]:
    """(conversion, offset) that map stored values to the series' unit: value * conversion + offset."""
    conversion = getattr(series, "conversion", 1.0)
    offset = getattr(series, "offset", 0.0)
    return float(1.0 if conversion is None else conversion), float(0.0 if offset is None else offset)


def linear_weights(
    source_times: np.ndarray, target_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights to interpolate samples at `source_times` onto `target_times` linearly.

    Returns (left, right, weight_right), each (len(target_times),); value = (1 - w) * x[left] + w * x[right].
    Targets outside the source range take the nearest end value.
    """
    right = np.clip(np.searchsorted(source_times, target_times, side="right"), 1, len(source_times) - 1)
    left = right - 1
    span = source_times[right] - source_times[left]
    weight = np.clip((target_times - source_times[left]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    if len(source_times) == 1:
        left = right = np.zeros_like(right)
    return left, right, weight
