"""Behaviour channels wherever they live: running speed, pupil size and pupil position on the 30 Hz ticks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pynwb.base import TimeSeries
from pynwb.ophys import RoiResponseSeries

from nwb_v1former.errors import SessionError
from nwb_v1former.nwb.discover import BehaviorUse, behavior_uses, object_path, reading
from nwb_v1former.nwb.timing import linear_weights, scale, series_times

NEUTRAL_VALUE = 0.0
"""Value of a channel the file does not have: constant, so it carries no information to the model."""

EDGE_HOLD_S = 1.0
"""A series' first / last value is held this long beyond its ends; further out it says nothing, so the
ticks get its median (a constant, as for a missing channel) and meta.json says how long."""

_TO_CM_PER_S = {"m/s": 100.0, "meters/second": 100.0, "cm/s": 1.0, "centimeters/second": 1.0}


@dataclass(frozen=True)
class BehaviorOnTicks:
    """behavior (T, 2) = [pupil size, running speed], pupil_center (T, 2), and what was done to get them."""

    behavior: np.ndarray
    pupil_center: np.ndarray
    sources: dict[str, str]
    filled: list[str]
    notes: list[str]


def _resample(series: TimeSeries, field: str, path: str, ticks: np.ndarray, notes: list[str]) -> np.ndarray:
    """Values of the series' dataset `field` in their unit (conversion and offset applied) at the tick
    times; (T, k) float32."""
    with reading(path):
        values = np.asarray(getattr(series, field)[:], dtype=np.float64)
    values = values.reshape(len(values), -1)
    conversion, offset = scale(series) if field == "data" else (1.0, 0.0)
    values = values * conversion + offset
    times = series_times(series, path, len(values), notes=notes)
    good = np.all(np.isfinite(values), axis=1)
    if not good.any():
        raise SessionError("every sample is NaN; drop the series or fix the file", where=path)
    if not good.all():
        notes.append(f"{path}: {int((~good).sum())} NaN samples (e.g. blinks) bridged by interpolation")
        values, times = values[good], times[good]
    left, right, weight = linear_weights(times, ticks)
    resampled = (1 - weight)[:, None] * values[left] + weight[:, None] * values[right]
    outside = (ticks < times[0] - EDGE_HOLD_S) | (ticks > times[-1] + EDGE_HOLD_S)
    if outside.any():
        resampled[outside] = np.median(values, axis=0)
        tick_interval = (ticks[-1] - ticks[0]) / max(1, len(ticks) - 1)
        notes.append(
            f"{path}: recorded {times[0]:.1f}-{times[-1]:.1f} s of the session's "
            f"{ticks[0]:.1f}-{ticks[-1]:.1f} s; "
            f"the {outside.sum() * tick_interval:.1f} s beyond set to its median"
        )
    return resampled.astype(np.float32)


def behavior_candidates(objects) -> list[tuple[str, TimeSeries]]:
    """(path, series) of every time series with data that is not ROI responses, in file order."""
    return [
        (object_path(obj), obj)
        for obj in objects
        if isinstance(obj, TimeSeries) and not isinstance(obj, RoiResponseSeries) and obj.data is not None
    ]


Chosen = tuple[str, TimeSeries, BehaviorUse]
"""A behaviour channel's source: its path (with the dataset when not `data`), the series, and how."""


def choose_behavior(candidates: list[tuple[str, TimeSeries]]) -> dict[str, Chosen]:
    """The series used for each channel the file has: the best-ranked, the first found among equals
    (see `behavior_uses`)."""
    chosen: dict[str, Chosen] = {}
    for path, series in candidates:
        for use in behavior_uses(series):
            shown = path if use.field == "data" else f"{path} ({use.field})"
            if use.channel not in chosen or use.rank < chosen[use.channel][2].rank:
                chosen[use.channel] = (shown, series, use)
    return chosen


def behavior_on_ticks(candidates: list[tuple[str, TimeSeries]], ticks: np.ndarray) -> BehaviorOnTicks:
    """Pick one series per channel (`choose_behavior`) and resample it; fill missing channels."""
    chosen = choose_behavior(candidates)
    notes: list[str] = []
    filled = []
    columns = {}
    for channel in ("pupil_size", "running", "pupil_center"):
        width = 2 if channel == "pupil_center" else 1
        if channel not in chosen:
            filled.append(channel)
            columns[channel] = np.full((len(ticks), width), NEUTRAL_VALUE, np.float32)
            continue
        path, series, use = chosen[channel]
        values = _resample(series, use.field, path, ticks, notes)
        if channel == "running":
            factor = _TO_CM_PER_S.get(str(series.unit).lower())
            if factor is None:
                notes.append(f"{path}: unit {series.unit!r} kept as is (expected m/s or cm/s)")
            else:
                values *= factor
        if values.shape[1] < width:
            raise SessionError("pupil position needs two columns (horizontal, vertical), has 1", where=path)
        columns[channel] = values[:, :width]
    return BehaviorOnTicks(
        behavior=np.concatenate([columns["pupil_size"], columns["running"]], axis=1),
        pupil_center=columns["pupil_center"],
        sources={channel: path for channel, (path, _, _) in chosen.items()},
        filled=filled,
        notes=notes,
    )
