"""The stimulus timeline: which frame of which movie was on the screen when, from the three NWB patterns.

A: an IndexSeries (timestamps) indexing a template (Images, or a legacy ImageSeries);
B: a presentations table whose `frame` column indexes a template in stimulus_template;
C: one long ImageSeries / OpticalSeries of the shown frames with its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals
from pynwb.image import ImageSeries, IndexSeries

from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.discover import NO_STIMULUS, NWBSource, reading
from nwb_v1former.nwb.frame_sources import FrameSource, series_source, template_source
from nwb_v1former.nwb.frames import FrameProcessor
from nwb_v1former.nwb.movie_place import movie_place
from nwb_v1former.nwb.timing import check_increasing, series_times

_BREAK_INTERVALS = 2.5
"""Without stop times, a gap longer than this many typical intervals of one stimulus is a break (grey
screen), not a dropped frame: the frame before it is held for one typical interval; shorter gaps hold
the frame until the next one."""

MATCH_TOLERANCE_S = 1e-3
"""An interval table's row describes a presentation when their start times agree to this much."""


@dataclass
class Presentations:
    """Frames shown by one stimulus object: when each presentation starts and stops (s), and its frame.

    `place` says why it is taken for a stimulus: "stimulus" (an index into a template, a presentations
    table, a movie in /stimulus or named as a stimulus), "movie" (a movie elsewhere that says nothing of
    what it shows) or "camera" (its name or description says a camera filmed it: not what the animal saw).
    `tables` are the interval tables its stop times came from (they list presentations, not trials).
    `from_template`: its frames are a template's, indexed (patterns A and B), not a movie's own (C).
    """

    name: str
    source: FrameSource
    times: np.ndarray
    frames: np.ndarray
    stops: np.ndarray
    place: str = "stimulus"
    tables: tuple[str, ...] = ()
    from_template: bool = True
    processor: FrameProcessor | None = None
    raw_shape: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)


def held_until_next(times: np.ndarray) -> tuple[np.ndarray, str]:
    """Stop times of presentations known only by their starts: each is held until the next one of the
    same stimulus, except across a break (a gap over _BREAK_INTERVALS typical intervals of this stimulus),
    where it is held one typical interval; (P,) float64 and how that was decided."""
    gaps = np.diff(times)
    typical = float(np.median(gaps[gaps > 0])) if np.any(gaps > 0) else 1.0 / TICK_RATE_HZ
    held = np.append(np.where(gaps > _BREAK_INTERVALS * typical, typical, gaps), typical)
    return times + held, (
        f"no stop times: each frame held until the next (typical {typical * 1000:.1f} ms; gaps over "
        f"{_BREAK_INTERVALS:g} of those are grey)"
    )


def _interval_tables(nwbfile: NWBFile, path_of) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(path, start times, stop times) of every interval table, for matching presentations to."""
    tables = []
    for table in nwbfile.objects.values():
        if isinstance(table, TimeIntervals) and len(table) > 0:
            with reading(path_of(table)):
                start = np.asarray(table["start_time"].data[:], np.float64)
                stop = np.asarray(table["stop_time"].data[:], np.float64)
            tables.append((path_of(table), start, stop))
    return tables


def matched_stops(
    times: np.ndarray, tables: list[tuple[str, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, str] | None:
    """Stop times of presentations whose every start is a row's start_time in one interval table (an
    AllenSDK `<name>_presentations` table beside its IndexSeries); None when no table lists them all."""
    for path, start, stop in tables:
        order = np.argsort(start, kind="stable")
        start, stop = start[order], stop[order]
        row = np.minimum(np.searchsorted(start, times - MATCH_TOLERANCE_S), len(start) - 1)
        if np.all(np.abs(start[row] - times) <= MATCH_TOLERANCE_S) and np.all(stop[row] > times):
            return stop[row], path
    return None


def _with_stops(
    name: str,
    source: FrameSource,
    times: np.ndarray,
    frames: np.ndarray,
    tables: list[tuple[str, np.ndarray, np.ndarray]],
    notes: list[str],
    place: str = "stimulus",
    from_template: bool = True,
) -> Presentations:
    """Presentations whose stop times come from an interval table listing them, else `held_until_next`."""
    check_increasing(times, name)
    matched = matched_stops(times, tables)
    if matched is None:
        stops, how = held_until_next(times)
        notes.append(f"{name}: {how}")
        return Presentations(name, source, times, frames, stops, place, (), from_template, notes=notes)
    stops, table = matched
    notes.append(f"{name}: each frame shown until its stop_time in {table}")
    return Presentations(name, source, times, frames, stops, place, (table,), from_template, notes=notes)


def find_presentations(
    nwbfile: NWBFile, path_of, nwb: NWBSource, image_order: str = "auto"
) -> tuple[list[Presentations], list[str]]:
    """Every stimulus object in the file, by type (patterns A, B and C), and why each image series that
    looked like a movie but cannot be used was left out. `nwb`: where the file is, for its external
    video files. `image_order`: see frame_sources.IMAGE_ORDERS."""
    found: list[Presentations] = []
    unusable: list[str] = []
    indexed = set()
    tables = _interval_tables(nwbfile, path_of)
    for obj in nwbfile.objects.values():
        if isinstance(obj, IndexSeries):
            target = obj.indexed_images if obj.indexed_images is not None else obj.indexed_timeseries
            if target is None:
                continue
            indexed.add(id(target))
            notes: list[str] = []
            path = path_of(obj)
            source = template_source(target, path_of(target), image_order, notes, nwb)
            with reading(path):
                frames = np.asarray(obj.data[:], np.int64)
            found.append(_with_stops(path, source, series_times(obj, path), frames, tables, notes))
    for obj in nwbfile.objects.values():
        if isinstance(obj, TimeIntervals) and "frame" in obj.colnames and len(obj) > 0:
            found.append(_table_presentations(nwbfile, obj, path_of, image_order, nwb))
    for obj in nwbfile.objects.values():
        if not isinstance(obj, ImageSeries) or id(obj) in indexed or "Photon" in obj.neurodata_type:
            continue
        path = path_of(obj)
        if path.startswith("/stimulus/templates/"):
            continue
        place = movie_place(obj, path)
        source = series_source(obj, path, nwb)
        if source is None:
            unusable.append(f"{path} is not a movie (data of shape {np.shape(obj.data)})")
            continue
        try:  # counting frames opens external files only where the series does not say how many
            n_frames = source.n_frames
        except SessionError as error:
            if place != "camera":
                raise
            unusable.append(f"{path}: a camera's video, left out; its files cannot be read ({error})")
            continue
        if n_frames < 2:
            unusable.append(f"{path} holds {n_frames} frame; a movie needs 2 frames or more with their times")
            continue
        frames = np.arange(n_frames, dtype=np.int64)
        times = series_times(obj, path, samples=n_frames)
        found.append(_with_stops(path, source, times, frames, tables, [], place, from_template=False))
    return found, unusable


def _table_presentations(
    nwbfile: NWBFile, table: TimeIntervals, path_of, image_order: str, nwb: NWBSource
) -> Presentations:
    path = path_of(table)
    templates = dict(nwbfile.stimulus_template)
    names = (
        set(np.asarray(table["stimulus_name"].data[:]).astype(str))
        if "stimulus_name" in table.colnames
        else set()
    )
    if len(names) == 1 and next(iter(names)) in templates:
        template_name = next(iter(names))
    elif len(templates) == 1:
        template_name = next(iter(templates))
    else:
        raise SessionError(
            f"cannot tell which of the templates {sorted(templates)} its 'frame' column indexes; "
            "name the table's template in a 'stimulus_name' column",
            where=path,
        )
    notes: list[str] = [f"{path}: each frame shown from its start_time to its stop_time"]
    source = template_source(
        templates[template_name], f"/stimulus/templates/{template_name}", image_order, notes, nwb
    )
    with reading(path):
        start = np.asarray(table["start_time"].data[:], np.float64)
        stop = np.asarray(table["stop_time"].data[:], np.float64)
        frames = np.asarray(table["frame"].data[:], np.int64)
    order = np.argsort(start, kind="stable")
    check_increasing(start[order], path)  # two presentations at one time: which was on screen is unknown
    if np.any(stop[order] <= start[order]):
        row = int(order[np.argmax(stop[order] <= start[order])])
        raise SessionError(
            f"row {row} stops ({stop[row]} s) before it starts ({start[row]} s); fix its stop_time, or "
            "leave this stimulus out with --stimulus naming the others",
            where=path,
        )
    return Presentations(
        path, source, start[order], frames[order], stop[order], "stimulus", (path,), notes=notes
    )


def select_presentations(
    found: list[Presentations], requested: tuple[str, ...], where: str, unusable: list[str] = ()
) -> tuple[list[Presentations], list[str]]:
    """The stimuli the animal saw, and notes on what was left out: those named by `requested` (names or
    paths, the --stimulus option), else every stimulus by place, leaving out camera videos.

    A movie outside /stimulus that does not say what it shows is taken only when nothing else could be
    the stimulus; beside other candidates it is a SessionError naming them all and --stimulus.
    """
    if not found:
        if unusable:
            raise MissingDataError(f"no stimulus movie: {'; '.join(unusable[:2])}", where=where)
        raise MissingDataError(NO_STIMULUS, where=where)
    notes: list[str] = []
    if requested:
        chosen = []
        for name in requested:
            named = [p for p in found if p.name == name or p.name.endswith("/" + name.strip("/"))]
            if not named:
                raise SessionError(
                    f"no stimulus named {name!r}; available: {', '.join(p.name for p in found)}", where=where
                )
            chosen.extend(p for p in named if p not in chosen)
    else:
        chosen = _default_stimuli(found, where)
        notes = [
            f"{p.name}: a camera's video by its name or description, not the stimulus (--stimulus to use it)"
            for p in found
            if p.place == "camera"
        ]
    for presentations in chosen:
        bad = (presentations.frames < 0) | (presentations.frames >= presentations.source.n_frames)
        if bad.any():
            raise SessionError(
                f"{presentations.name} refers to frame {int(presentations.frames[bad][0])} but "
                f"{presentations.source.name} has {presentations.source.n_frames} frames",
                where=where,
            )
        sample = presentations.source.read(np.unique(presentations.frames[:4]))
        presentations.processor = FrameProcessor.for_frames(sample)
        presentations.raw_shape = (presentations.source.n_frames, *sample.shape[1:])
    return chosen, notes


def _default_stimuli(found: list[Presentations], where: str) -> list[Presentations]:
    """Stimuli by place; an unlabelled movie alone; a SessionError where the choice is not clear."""
    stimuli = [p for p in found if p.place == "stimulus"]
    movies = [p for p in found if p.place == "movie"]
    if movies and (stimuli or len(movies) > 1):
        names = ", ".join(p.name for p in stimuli + movies)
        raise SessionError(
            f"cannot tell which of {names} the animal saw (a movie outside /stimulus may be a camera's); "
            "choose with --stimulus NAME (repeat it for several)",
            where=where,
        )
    if stimuli or movies:
        return stimuli or movies
    cameras = ", ".join(p.name for p in found)
    raise MissingDataError(
        f"no stimulus movie: only camera videos ({cameras}, by their names or descriptions); if one is "
        "what the animal saw, choose it with --stimulus NAME",
        where=where,
    )


@dataclass(frozen=True)
class Timeline:
    """All presentations merged in time: (P,) arrays, sorted by start time.

    `hold` is how long each stays on screen: until its own stop time, or until the next presentation
    of any stimulus starts, whichever comes first.
    """

    times: np.ndarray
    source: np.ndarray
    frame: np.ndarray
    hold: np.ndarray

    @classmethod
    def merge(cls, presentations: list[Presentations]) -> Timeline:
        times = np.concatenate([p.times for p in presentations])
        stops = np.concatenate([p.stops for p in presentations])
        source = np.concatenate([np.full(len(p.times), i) for i, p in enumerate(presentations)])
        frame = np.concatenate([p.frames for p in presentations])
        order = np.argsort(times, kind="stable")
        times, stops, source, frame = times[order], stops[order], source[order], frame[order]
        next_start = np.append(times[1:], np.inf)
        return cls(times, source, frame, np.minimum(stops, next_start) - times)

    @property
    def span(self) -> tuple[float, float]:
        return float(self.times[0]), float(np.max(self.times + self.hold))

    def at(self, ticks: np.ndarray, tolerance: float) -> np.ndarray:
        """Index of the presentation on screen at each tick time, -1 where none is; (T,) int64.

        A presentation is on screen from `tolerance` before its timestamp (clock jitter) until `tolerance`
        before its hold time ends.
        """
        index = np.searchsorted(self.times, ticks + tolerance, side="right") - 1
        shown = index >= 0
        safe = np.maximum(index, 0)
        shown &= ticks + tolerance - self.times[safe] < self.hold[safe]
        return np.where(shown, index, -1)
