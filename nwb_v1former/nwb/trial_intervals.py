"""Where the trials are: spans in which a movie the file holds was on the screen.

Candidates come from the trials table; else from the other interval tables (epochs, MICrONS' clip
tables; never a table that only lists presentations); else from runs of presentations. Each candidate
is then cut to the presentations shown inside it, so grey edges and stimuli the file has no frames for
(gratings, spontaneous activity) never become trials; a span that holds a finer one (an epoch holding
clip rows) gives way to it; a movie that starts over inside a span (Allen's natural movies, ten passes
in one epoch) starts a new trial at every pass, so each pass is a repeat of one clip.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals

from nwb_v1former.nwb.discover import reading
from nwb_v1former.nwb.stimulus import Presentations, Timeline

MIN_TRIAL_S = 1.0
"""Spans shorter than this after cutting (an interval's edge catching one frame of the next stimulus,
a single flash) are not trials: no window of the model fits in them."""
SEQUENTIAL_FRACTION = 0.9
"""A template shown in this share of steps as frame k then k + 1 is a movie: going back is a new pass."""
_RUN_GAP_INTERVALS = 2.5


@dataclass(frozen=True)
class TrialSpans:
    """Trials in time (s), sorted: (n,) start and stop, the file's tier of each, what each showed.

    `shown` identifies a trial by the template frames it showed, in order (equal for every pass of one
    clip whatever the clocks' jitter), or None for a trial of frames stored once (a long movie), which is
    then identified by its pixels.
    """

    start: np.ndarray
    stop: np.ndarray
    source_tiers: list[str]
    shown: list[str | None]
    origin: str
    notes: list[str]


def _table_rows(tables: list[TimeIntervals], path_of) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(start, stop, tier) of every row of `tables`; rows whose boolean `labelled` column is False (e.g.
    Sensorium's hidden test trials, responses all zeros) get tier "none", so they never train or score."""
    starts, stops, tiers = [], [], []
    for table in tables:
        with reading(path_of(table)):
            starts.append(np.asarray(table["start_time"].data[:], np.float64))
            stops.append(np.asarray(table["stop_time"].data[:], np.float64))
            names = (
                [str(v.decode() if isinstance(v, bytes) else v) for v in table["tier"].data[:]]
                if "tier" in table.colnames
                else [""] * len(table)
            )
            if "labelled" in table.colnames:
                labelled = np.asarray(table["labelled"].data[:], bool)
                names = [name if known else "none" for name, known in zip(names, labelled, strict=True)]
        tiers.extend(names)
    return np.concatenate(starts), np.concatenate(stops), tiers


def _runs(timeline: Timeline) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Runs of consecutive presentations of one stimulus, broken where another starts or by a gap over
    _RUN_GAP_INTERVALS of that stimulus' typical interval."""
    times, source = timeline.times, timeline.source
    typical = {}
    for index in np.unique(source):
        gaps = np.diff(times[source == index])
        typical[index] = float(np.median(gaps)) if len(gaps) else 0.0
    limit = np.array([_RUN_GAP_INTERVALS * typical[s] for s in source[1:]])
    breaks = np.flatnonzero((source[1:] != source[:-1]) | (np.diff(times) > limit))
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [len(times) - 1]])
    ends = times + timeline.hold
    return (
        times[first],
        np.array([ends[a : b + 1].max() for a, b in zip(first, last, strict=True)]),
        [""] * len(first),
    )


def _sequential_templates(timeline: Timeline, presentations: list[Presentations]) -> set[int]:
    """Templates shown as movies (frame k then k + 1) more than once: a step back starts a new pass."""
    movies = set()
    for index, presentation in enumerate(presentations):
        if not presentation.from_template:
            continue
        frames = timeline.frame[timeline.source == index]
        steps = np.diff(frames)
        if len(steps) and (steps == 1).mean() >= SEQUENTIAL_FRACTION and len(np.unique(frames)) < len(frames):
            movies.add(index)
    return movies


def _cut(
    start: float, stop: float, timeline: Timeline, movies: set[int], tolerance: float
) -> list[tuple[int, int]]:
    """Presentation ranges [lo, hi) of the trials inside one span: those on screen in it, one range per
    pass of a movie; none when nothing the file holds was shown."""
    times, ends = timeline.times, timeline.times + timeline.hold
    lo = int(np.searchsorted(times, start + tolerance, side="right")) - 1
    if lo < 0 or ends[lo] <= start + tolerance:
        lo += 1
    hi = int(np.searchsorted(times, stop - tolerance, side="left"))
    if hi <= lo:
        return []
    source, frame = timeline.source[lo:hi], timeline.frame[lo:hi]
    restart = (source[1:] == source[:-1]) & (frame[1:] < frame[:-1]) & np.isin(source[1:], list(movies))
    bounds = [lo, *(lo + 1 + np.flatnonzero(restart)).tolist(), hi]
    return list(itertools.pairwise(bounds))


def _shown(lo: int, hi: int, timeline: Timeline, presentations: list[Presentations]) -> str | None:
    """Hash of the template frames shown in presentations [lo, hi), in order; None if any is not from a
    template."""
    sources = timeline.source[lo:hi]
    if not all(presentations[s].from_template for s in np.unique(sources)):
        return None
    digest = hashlib.sha1()
    for index in np.unique(sources):
        digest.update(presentations[index].source.name.encode())
    digest.update(np.ascontiguousarray(sources, np.int64).tobytes())
    digest.update(np.ascontiguousarray(timeline.frame[lo:hi], np.int64).tobytes())
    return digest.hexdigest()[:16]


def _innermost(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Mask of spans that hold no other span (identical spans: the first is kept)."""
    keep = np.ones(len(start), bool)
    order = np.lexsort((-stop, start))
    for rank, i in enumerate(order):
        later = order[rank + 1 :]
        inside = (start[later] >= start[i]) & (stop[later] <= stop[i])
        if inside.any():
            keep[i] = False
    return keep


def trial_spans(
    nwbfile: NWBFile, timeline: Timeline, presentations: list[Presentations], path_of, tolerance: float
) -> TrialSpans:
    """The trials of a session in time, and notes on what was dropped or cut (see the module docstring)."""
    if nwbfile.trials is not None and len(nwbfile.trials) > 0:
        start, stop, tiers = _table_rows([nwbfile.trials], path_of)
        origin = "/intervals/trials"
    else:
        listed = {table for p in presentations for table in p.tables}
        tables = [
            table
            for name, table in nwbfile.intervals.items()
            if isinstance(table, TimeIntervals)
            and len(table) > 0
            and "frame" not in table.colnames
            and name != "invalid_times"
            and path_of(table) not in listed
        ]
        if tables:
            start, stop, tiers = _table_rows(tables, path_of)
            origin = ", ".join(sorted(path_of(t) for t in tables))
        else:
            start, stop, tiers = _runs(timeline)
            origin = "runs of consecutive stimulus presentations"
    movies = _sequential_templates(timeline, presentations)
    ends = timeline.times + timeline.hold
    pieces: list[tuple[float, float, str, str | None]] = []
    empty = passes = 0
    for a, b, tier in zip(start, stop, tiers, strict=True):
        ranges = _cut(float(a), float(b), timeline, movies, tolerance)
        empty += not ranges
        passes += max(0, len(ranges) - 1)
        for lo, hi in ranges:
            first, last = max(float(a), float(timeline.times[lo])), min(float(b), float(ends[lo:hi].max()))
            pieces.append((first, last, tier, _shown(lo, hi, timeline, presentations)))
    notes = []
    if passes:
        names = ", ".join(presentations[i].name for i in sorted(movies))
        notes.append(
            f"{names}: {passes} more trial(s), one at every pass of the movie (its frame going back)"
        )
    if empty:
        notes.append(
            f"{empty} interval(s) of {origin} showed no stimulus the file holds frames of: not trials"
        )
    short = sum(p[1] - p[0] < MIN_TRIAL_S for p in pieces)
    if short:
        notes.append(f"{short} trial(s) shorter than {MIN_TRIAL_S:g} s once cut to what was shown: dropped")
    pieces = sorted((p for p in pieces if p[1] - p[0] >= MIN_TRIAL_S), key=lambda p: p[0])
    if pieces:
        inner = _innermost(np.array([p[0] for p in pieces]), np.array([p[1] for p in pieces]))
        if not inner.all():
            notes.append(f"{int((~inner).sum())} interval(s) holding finer ones gave way to them")
        pieces = [p for p, keep in zip(pieces, inner, strict=True) if keep]
    return TrialSpans(
        start=np.array([p[0] for p in pieces], np.float64),
        stop=np.array([p[1] for p in pieces], np.float64),
        source_tiers=[p[2] for p in pieces],
        shown=[p[3] for p in pieces],
        origin=origin,
        notes=notes,
    )
