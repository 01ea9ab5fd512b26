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

from nwb_v1former.errors import SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.discover import reading
from nwb_v1former.nwb.stimulus import Presentations, Timeline
from nwb_v1former.nwb.trials import to_ticks

MIN_TRIAL_S = 1.0
"""Spans the reader derived (from epochs, other interval tables, runs) shorter than this once cut (an
interval's edge catching one frame of the next stimulus) are not trials; a trials table's rows are
kept whatever their length."""
NESTED_COVERAGE = 0.9
"""Share of a span's presentations that spans inside it must cover to be its finer division."""
SEQUENTIAL_FRACTION = 0.9
"""A template shown in this share of its frame changes as frame k then k + 1 is a movie: going back is a
new pass."""
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

    def on_ticks(
        self, tick_times: np.ndarray, tolerance: float
    ) -> tuple[np.ndarray, np.ndarray, list[str], list[str | None], list[str]]:
        """(first tick, end tick, source tier, shown) of each trial on the grid, and notes.

        A trial the grid's ends cut (the recording starts or stops inside it) no longer shows what its
        `shown` says: dropped where whole trials show the same (it would hold part of their content
        out of their tier), else identified by its pixels.
        """
        first, end = to_ticks(self.start, self.stop, tick_times, tolerance)
        cut = (self.start < tick_times[0] - tolerance) | (
            self.stop > tick_times[-1] + 1 / TICK_RATE_HZ + tolerance
        )
        whole = {shown for shown, is_cut in zip(self.shown, cut, strict=True) if not is_cut and shown}
        drop = np.array(
            [is_cut and shown in whole for shown, is_cut in zip(self.shown, cut, strict=True)], bool
        )
        shown = [None if is_cut else s for s, is_cut in zip(self.shown, cut, strict=True)]
        keep = ~drop
        notes = (
            [f"{int(drop.sum())} trial(s) cut by the recording's start or end, repeating whole ones: dropped"]
            if drop.any()
            else []
        )
        tiers = [t for t, k in zip(self.source_tiers, keep, strict=True) if k]
        return first[keep], end[keep], tiers, [s for s, k in zip(shown, keep, strict=True) if k], notes


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
        moves = steps[steps != 0]  # a frame indexed twice (a 60 Hz index of a 30 Hz movie) is no step
        if len(moves) and (moves == 1).mean() >= SEQUENTIAL_FRACTION and len(np.unique(frames)) < len(frames):
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


def _hold_units(timeline: Timeline) -> np.ndarray:
    """Each presentation's stimulus' typical time on screen (its median hold); (P,) float64."""
    units = np.empty(len(timeline.times))
    for index in np.unique(timeline.source):
        mine = timeline.source == index
        held = timeline.hold[mine]
        units[mine] = float(np.median(held[held > 0])) if np.any(held > 0) else 1.0 / TICK_RATE_HZ
    return units


def _shown(
    lo: int, hi: int, timeline: Timeline, units: np.ndarray, presentations: list[Presentations]
) -> str | None:
    """Hash of what presentations [lo, hi) showed: which template frames, in order, how long each stayed
    and how long after the one before it came, in whole units of its stimulus' typical time on screen
    (so clock jitter leaves it unchanged, and an omitted flash changes it); None if any frame is not a
    template's."""
    sources = timeline.source[lo:hi]
    if not all(presentations[s].from_template for s in np.unique(sources)):
        return None
    digest = hashlib.sha1()
    for index in np.unique(sources):
        digest.update(presentations[index].source.name.encode())
    unit = units[lo:hi]
    for part in (
        sources,
        timeline.frame[lo:hi],
        np.rint(timeline.hold[lo:hi] / unit),
        np.rint(np.diff(timeline.times[lo:hi]) / unit[:-1]),
    ):
        digest.update(np.ascontiguousarray(part, np.int64).tobytes())
    return digest.hexdigest()[:16]


def _outermost_first(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Order of presentation ranges by first presentation, the longer first among equal starts."""
    return np.lexsort((-hi, lo))


def _nested(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Mask of the ranges kept where one holds others, and how many outer and inner ones gave way.

    Ranges that together cover at least NESTED_COVERAGE of a range's presentations are its finer
    division (an epoch's clip rows): they are kept and it goes. Less is a fragment (another interval's
    edge reaching into a pass): the fragment goes and the range stays. Of identical ranges one is kept.
    """
    keep = np.ones(len(lo), bool)
    order = _outermost_first(lo, hi)
    lo_sorted = lo[order]
    outer = inner = 0
    for rank, i in enumerate(order):
        if not keep[i]:
            continue
        stop = int(np.searchsorted(lo_sorted, hi[i], side="left"))
        inside = [j for j in order[rank + 1 : stop] if keep[j] and hi[j] <= hi[i]]
        if not inside:
            continue
        finer = [j for j in inside if (lo[j], hi[j]) != (lo[i], hi[i])]
        covered = np.zeros(hi[i] - lo[i], bool)
        for j in finer:
            covered[lo[j] - lo[i] : hi[j] - lo[i]] = True
        if finer and covered.mean() >= NESTED_COVERAGE:
            keep[i] = False
            outer += 1
        else:
            keep[inside] = False
            inner += len(finer)
    return keep, outer, inner


def _candidates(
    nwbfile: NWBFile, timeline: Timeline, presentations: list[Presentations], path_of
) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(start, stop, tier, where they came from) of the candidate spans (see the module docstring)."""
    if nwbfile.trials is not None and len(nwbfile.trials) > 0:
        return (*_table_rows([nwbfile.trials], path_of), TRIALS_TABLE)
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
        return (*_table_rows(tables, path_of), ", ".join(sorted(path_of(t) for t in tables)))
    return (*_runs(timeline), "runs of consecutive stimulus presentations")


TRIALS_TABLE = "/intervals/trials"


def trial_spans(
    nwbfile: NWBFile, timeline: Timeline, presentations: list[Presentations], path_of, tolerance: float
) -> TrialSpans:
    """The trials of a session in time, and notes on what was dropped or cut (see the module docstring).

    A SessionError when no trial is left, saying why.
    """
    start, stop, tiers, origin = _candidates(nwbfile, timeline, presentations, path_of)
    movies = _sequential_templates(timeline, presentations)
    ends = timeline.times + timeline.hold
    pieces: list[tuple[int, int, float, float, str]] = []
    empty = passes = 0
    for a, b, tier in zip(start, stop, tiers, strict=True):
        ranges = _cut(float(a), float(b), timeline, movies, tolerance)
        empty += not ranges
        passes += max(0, len(ranges) - 1)
        for lo, hi in ranges:
            first, last = max(float(a), float(timeline.times[lo])), min(float(b), float(ends[lo:hi].max()))
            pieces.append((lo, hi, first, last, tier))
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
    if origin != TRIALS_TABLE:  # spans the reader derived: an edge catching a frame is no trial
        short = [p for p in pieces if p[3] - p[2] < MIN_TRIAL_S]
        if short:
            notes.append(
                f"{len(short)} span(s) shorter than {MIN_TRIAL_S:g} s once cut to what was shown: dropped"
            )
        pieces = [p for p in pieces if p[3] - p[2] >= MIN_TRIAL_S]
    if pieces:
        keep, outer, inner = _nested(np.array([p[0] for p in pieces]), np.array([p[1] for p in pieces]))
        if outer:
            notes.append(f"{outer} interval(s) divided by finer ones gave way to them")
        if inner:
            notes.append(f"{inner} fragment(s) of a longer trial (another interval's edge) dropped")
        pieces = sorted((p for p, kept in zip(pieces, keep, strict=True) if kept), key=lambda p: p[2])
    if not pieces:
        long_enough = "" if origin == TRIALS_TABLE else f" for {MIN_TRIAL_S:g} s or more"
        raise SessionError(
            f"no trial: none of the {len(start)} interval(s) of {origin} shows a stimulus the file has "
            f"frames of{long_enough}; check the file's intervals and its stimulus (inspect lists both)"
        )
    units = _hold_units(timeline)
    return TrialSpans(
        start=np.array([p[2] for p in pieces], np.float64),
        stop=np.array([p[3] for p in pieces], np.float64),
        source_tiers=[p[4] for p in pieces],
        shown=[_shown(p[0], p[1], timeline, units, presentations) for p in pieces],
        origin=origin,
        notes=notes,
    )
