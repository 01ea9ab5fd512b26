"""Trials on the 30 Hz grid: from the file's tables (or the stimulus itself), with stimulus ids and tiers."""

from __future__ import annotations

import hashlib

import numpy as np
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals

from nwb_v1former.data.store import Trials
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.stimulus import Timeline

_TIER_NAMES = {"train": "train", "training": "train", "oracle": "validation", "validation": "validation"}
_RUN_GAP_INTERVALS = 2.5


def canonical_tier(name: str) -> str:
    """train | validation | test | none, from the tier names files use (Sensorium's among them)."""
    name = str(name).strip().lower()
    if name in _TIER_NAMES:
        return _TIER_NAMES[name]
    if "test" in name:
        return "test"
    return "none"


def trial_intervals(
    nwbfile: NWBFile, timeline: Timeline, path_of
) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(start, stop, source tiers, where they came from), sorted by start.

    Preference: the trials table; else interval tables other than per-frame presentation tables
    (e.g. MICrONS' Clip/Monet2/Trippy); else runs of consecutive stimulus presentations.
    Rows whose boolean `labelled` column is False (e.g. Sensorium's hidden test trials, responses all
    zeros) get source tier "none", so they never train or evaluate.
    """
    if nwbfile.trials is not None and len(nwbfile.trials) > 0:
        return (*_table_rows([nwbfile.trials]), "/intervals/trials")
    tables = [
        table
        for name, table in nwbfile.intervals.items()
        if isinstance(table, TimeIntervals) and "frame" not in table.colnames and name != "invalid_times"
    ]
    if tables:
        return (*_table_rows(tables), ", ".join(sorted(path_of(t) for t in tables)))
    gaps = np.diff(timeline.times)
    typical = float(np.median(gaps)) if len(gaps) else 1.0 / TICK_RATE_HZ
    breaks = np.flatnonzero(gaps > _RUN_GAP_INTERVALS * typical)
    starts = timeline.times[np.concatenate([[0], breaks + 1])]
    stops = timeline.times[np.concatenate([breaks, [len(timeline.times) - 1]])] + typical
    return starts, stops, [""] * len(starts), "runs of consecutive stimulus presentations"


def _table_rows(tables: list[TimeIntervals]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    start = np.concatenate([np.asarray(t["start_time"].data[:], np.float64) for t in tables])
    stop = np.concatenate([np.asarray(t["stop_time"].data[:], np.float64) for t in tables])
    tiers: list[str] = []
    for table in tables:
        if "tier" in table.colnames:
            names = [str(v.decode() if isinstance(v, bytes) else v) for v in table["tier"].data[:]]
        else:
            names = [""] * len(table)
        if "labelled" in table.colnames:
            labelled = np.asarray(table["labelled"].data[:], bool)
            names = [name if known else "none" for name, known in zip(names, labelled, strict=True)]
        tiers.extend(names)
    order = np.argsort(start, kind="stable")
    return start[order], stop[order], [tiers[i] for i in order]


def to_ticks(
    start: np.ndarray, stop: np.ndarray, tick_times: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """First tick at or after each start and each stop (exclusive end), allowing `tolerance` s of jitter."""
    first = np.searchsorted(tick_times, start - tolerance, side="left")
    end = np.searchsorted(tick_times, stop - tolerance, side="left")
    return first, end


def stimulus_id(video: np.ndarray) -> str:
    """Content hash of a trial's frames (T, 36, 64) uint8: repeats of a clip share it."""
    return hashlib.sha1(np.ascontiguousarray(video).tobytes()).hexdigest()[:16]


def assign_tiers(stimulus_ids: np.ndarray, source_tiers: list[str]) -> tuple[np.ndarray, str]:
    """Canonical tiers: the file's own when it has them, else a deterministic split by stimulus id.

    Every clip that repeats goes wholly to validation or test (by its hash), never to training; clips
    shown once train, unless no clip repeats, in which case 10% validate and 10% test (by hash).
    """
    if any(source_tiers):
        return np.array([canonical_tier(t) for t in source_tiers]), "from the file's tier column"
    counts = {sid: int((stimulus_ids == sid).sum()) for sid in set(stimulus_ids.tolist())}
    repeated = sorted(sid for sid, count in counts.items() if count > 1)
    tiers = np.full(len(stimulus_ids), "train", dtype="<U16")
    if repeated:
        held_out = {sid: ("validation" if int(sid[:8], 16) % 2 == 0 else "test") for sid in repeated}
        if len(repeated) > 1 and len(set(held_out.values())) == 1:
            held_out[repeated[0]] = "test" if held_out[repeated[0]] == "validation" else "validation"
        for index, sid in enumerate(stimulus_ids):
            tiers[index] = held_out.get(sid, "train")
        return tiers, "split by stimulus id: repeated clips to validation / test, the rest to train"
    bucket = np.array([int(sid[:8], 16) % 10 for sid in stimulus_ids])
    tiers[bucket == 0] = "validation"
    tiers[bucket == 1] = "test"
    return tiers, "split by stimulus id (no repeated clips): 80% train, 10% validation, 10% test"


def build_trials(
    first: np.ndarray, end: np.ndarray, video: np.ndarray, source_tiers: list[str]
) -> tuple[Trials, str]:
    """Trials table for the store (trials with no tick inside the grid are dropped)."""
    keep = end > first
    first, end = first[keep], end[keep]
    source = [t for t, k in zip(source_tiers, keep, strict=True) if k]
    ids = np.array([stimulus_id(video[a:b]) for a, b in zip(first, end, strict=True)], dtype="<U32")
    tiers, how = assign_tiers(ids, source)
    return Trials(first, end, tiers, ids, np.array(source, dtype="<U32")), how
