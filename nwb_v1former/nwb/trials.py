"""Trials on the 30 Hz grid (spans from `trial_intervals`), with stimulus ids and tiers."""

from __future__ import annotations

import hashlib

import numpy as np

from nwb_v1former.data.store import Trials
from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.metrics import SKIP_FRAMES

_TIER_NAMES = {"train": "train", "training": "train", "oracle": "validation", "validation": "validation"}


def canonical_tier(name: str) -> str:
    """train | validation | test | none, from the tier names files use (Sensorium's among them)."""
    name = str(name).strip().lower()
    if name in _TIER_NAMES:
        return _TIER_NAMES[name]
    if "test" in name:
        return "test"
    return "none"


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


TIER_ORDER = ("train", "validation", "test")
SPLITS = ("auto", "file", "stimulus", "clips", "segments")
"""How trials get their tiers (convert --split): see `build_trials`."""
HELD_OUT_FRACTIONS = (0.1, 0.2)
"""Validation and test shares of the clips (`clips`) or of each clip's frames (`segments`)."""


def stimulus_split(stimulus_ids: np.ndarray) -> tuple[np.ndarray, str]:
    """Every clip that repeats goes wholly to validation or test (by its hash), never to training; clips
    shown once train, unless no clip repeats, in which case 10% validate and 10% test (by hash)."""
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


def clip_split(stimulus_ids: np.ndarray) -> tuple[np.ndarray, str]:
    """Every distinct clip wholly to one tier, with all its repeats: 10% of the clips (at least one)
    validate, 20% (at least one) test, the rest train; clips taken in the order of their hash."""
    distinct = sorted(set(stimulus_ids.tolist()))
    if len(distinct) < 3:
        raise SessionError(
            f"only {len(distinct)} distinct clip(s): whole clips cannot fill train, validation and test; "
            "use --split segments (each clip cut by time)"
        )
    n_validation, n_test = (max(1, round(share * len(distinct))) for share in HELD_OUT_FRACTIONS)
    n_validation = min(n_validation, len(distinct) - 2)
    n_test = min(n_test, len(distinct) - 1 - n_validation)
    tier_of = {sid: "validation" for sid in distinct[:n_validation]}
    tier_of |= {sid: "test" for sid in distinct[n_validation : n_validation + n_test]}
    tiers = np.array([tier_of.get(sid, "train") for sid in stimulus_ids.tolist()], dtype="<U16")
    counts = {tier: len({s for s in distinct if tier_of.get(s, "train") == tier}) for tier in TIER_ORDER}
    return tiers, (
        f"split by whole clips, every repeat with its clip: {counts['train']} clip(s) train, "
        f"{counts['validation']} validate, {counts['test']} test"
    )


def segment_bounds(length: int, distinct_clips: int = 3) -> list[tuple[int, int, str]]:
    """A clip of `length` ticks cut by time into (start, stop, tier): 70% train, then 10% validation and
    20% test, each held-out segment longer than evaluation's burn-in (SKIP_FRAMES). The refusal of a
    clip too short says what could work instead, given the session's `distinct_clips`."""
    needed = [max(round(share * length), SKIP_FRAMES + 1) for share in HELD_OUT_FRACTIONS]
    train = length - sum(needed)
    if train < SKIP_FRAMES + 1:
        instead = (
            "use --split clips (needs 3 or more distinct clips)"
            if distinct_clips >= 3
            else f"and {distinct_clips} distinct clip(s) cannot fill train, validation and test whole: no "
            "split can hold out any of this session; record longer clips or more of them"
        )
        raise SessionError(
            f"clips of {length} ticks are too short to cut into train, validation and test segments "
            f"longer than the {SKIP_FRAMES}-tick burn-in; {instead}"
        )
    return [
        (0, train, "train"),
        (train, train + needed[0], "validation"),
        (train + needed[0], length, "test"),
    ]


def assign_tiers(stimulus_ids: np.ndarray, source_tiers: list[str], split: str) -> tuple[np.ndarray, str]:
    """(tiers, what was done) for trials that are not cut (`split`: file, clips or stimulus)."""
    if split == "file":
        return np.array([canonical_tier(t) for t in source_tiers]), "from the file's tier column"
    return clip_split(stimulus_ids) if split == "clips" else stimulus_split(stimulus_ids)


def resolve_split(split: str, stimulus_ids: np.ndarray, source_tiers: list[str]) -> str:
    """`auto`: the file's tiers when it has them; else by stimulus when some clip is shown once (so
    repeated clips are held out whole); else whole clips when there are 3 or more; else segments."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r}: choose one of {', '.join(SPLITS)}")
    if split == "file" and not any(source_tiers):
        raise SessionError("the file has no tier column; choose --split auto, stimulus, clips or segments")
    if split != "auto":
        return split
    if any(source_tiers):
        return "file"
    counts = {sid: int((stimulus_ids == sid).sum()) for sid in set(stimulus_ids.tolist())}
    if min(counts.values()) == 1:
        return "stimulus"
    return "clips" if len(counts) >= 3 else "segments"


def _piece_id(parent: str, index: int) -> str:
    """Id of the `index`-th time segment of a trial that showed `parent`: equal across its repeats."""
    return hashlib.sha1(f"{parent}/{index}".encode()).hexdigest()[:16]


def build_trials(
    first: np.ndarray,
    end: np.ndarray,
    video: np.ndarray,
    source_tiers: list[str],
    split: str = "auto",
    shown: list[str | None] | None = None,
) -> tuple[Trials, str]:
    """Trials table for the store (trials with no tick inside the grid are dropped), and how tiers were
    assigned. A trial's stimulus id is `shown` (what template frames it showed) where given, else a hash
    of its frames on the ticks. With `segments`, every presentation of a clip is cut by time at the same
    frames, so each tier holds whole segments of content across all repeats."""
    shown = [None] * len(first) if shown is None else shown
    keep = end > first
    if not keep.any():
        raise SessionError("no trial overlaps the recording; check the trials / intervals tables")
    first, end = first[keep], end[keep]
    source = [t for t, k in zip(source_tiers, keep, strict=True) if k]
    ids = np.array(
        [
            known or stimulus_id(video[a:b])
            for a, b, known in zip(
                first, end, [s for s, k in zip(shown, keep, strict=True) if k], strict=True
            )
        ],
        dtype="<U32",
    )
    rule = resolve_split(split, ids, source)
    if rule != "segments":
        tiers, how = assign_tiers(ids, source, rule)
        return Trials(first, end, tiers, ids, np.array(source, dtype="<U32")), how
    distinct = len(set(ids.tolist()))
    pieces = [
        (a + start, a + stop, tier, origin, _piece_id(parent, index))
        for a, b, origin, parent in zip(first, end, source, ids, strict=True)
        for index, (start, stop, tier) in enumerate(segment_bounds(int(b - a), distinct))
    ]
    cut_first = np.array([p[0] for p in pieces], np.int64)
    cut_end = np.array([p[1] for p in pieces], np.int64)
    cut_ids = np.array([p[4] for p in pieces], "<U32")
    tiers = np.array([p[2] for p in pieces], dtype="<U16")
    how = (
        "split by time: every clip cut into train, validation and test segments (70/10/20% of its "
        "frames, held-out segments longer than the burn-in), the same cut for every repeat"
    )
    return Trials(cut_first, cut_end, tiers, cut_ids, np.array([p[3] for p in pieces], dtype="<U32")), how
