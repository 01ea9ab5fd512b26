"""The stimulus timeline: which frame of which movie was on the screen when, from the three NWB patterns.

A: an IndexSeries (timestamps) indexing a template (Images, or a legacy ImageSeries);
B: a presentations table whose `frame` column indexes a template in stimulus_template;
C: one long ImageSeries / OpticalSeries of the shown frames with its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pynwb import NWBFile
from pynwb.base import Images
from pynwb.epoch import TimeIntervals
from pynwb.image import ImageSeries, IndexSeries

from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.discover import NO_STIMULUS, reading
from nwb_v1former.nwb.frames import FrameProcessor
from nwb_v1former.nwb.timing import check_increasing, series_times

_BREAK_INTERVALS = 2.5
"""A gap longer than this many typical frame intervals is a break (grey screen), not a dropped frame:
the frame before it is held for one typical interval; shorter gaps hold the frame until the next one."""


@dataclass
class DatasetSource:
    """Frames stored in one dataset with time first (ImageSeries data)."""

    name: str
    data: object

    @property
    def n_frames(self) -> int:
        return int(self.data.shape[0])

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw frames for sorted unique `indices`; (k, a, b[, c])."""
        if len(indices) == 0:
            return np.zeros((0, *self.data.shape[1:]), dtype=self.data.dtype)
        first, last = int(indices[0]), int(indices[-1]) + 1
        with reading(f"{self.name} (frames {first}-{last - 1})"):
            if last - first <= 2 * len(indices):  # dense: one contiguous read beats fancy indexing
                return np.asarray(self.data[first:last])[indices - first]
            return np.asarray(self.data[np.asarray(indices)])


@dataclass
class ImagesSource:
    """Frames stored as one image each in an Images container, ordered by order_of_images."""

    name: str
    images: list

    @property
    def n_frames(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Raw frames for sorted unique `indices`; (k, a, b)."""
        frames = []
        for i in indices:
            with reading(f"{self.name} (frame {int(i)})"):
                frames.append(np.asarray(self.images[int(i)].data[()]))
        return np.stack(frames)


FrameSource = DatasetSource | ImagesSource
"""Random access to the raw frames of one template or movie."""


@dataclass
class Presentations:
    """Frames shown by one stimulus object: time (s) and source frame of each presentation."""

    name: str
    source: FrameSource
    times: np.ndarray
    frames: np.ndarray
    processor: FrameProcessor | None = None
    raw_shape: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)


def _images_source(images: Images, name: str, notes: list[str]) -> ImagesSource:
    if images.order_of_images is not None and len(images.order_of_images) > 0:
        ordered = [images.order_of_images[i] for i in range(len(images.order_of_images))]
    else:
        ordered = [images.images[key] for key in sorted(images.images)]
        notes.append(f"{name}: no order_of_images; frames taken in name order, which may not be index order")
    return ImagesSource(name=name, images=ordered)


def _template_source(template, name: str, notes: list[str]) -> FrameSource:
    if isinstance(template, Images):
        return _images_source(template, name, notes)
    if isinstance(template, ImageSeries) and template.data is not None and len(template.data):
        return DatasetSource(name=name, data=template.data)
    raise SessionError(
        "the template it indexes holds no frames (external files are not supported)", where=name
    )


def _unusable_movie(series: ImageSeries, path: str) -> str | None:
    """Why an ImageSeries outside the templates cannot be a pattern-C movie (None: it can)."""
    if series.external_file is not None and len(series.external_file):
        files = ", ".join(str(name) for name in series.external_file[:2])
        return f"{path} keeps its frames in an external file ({files}), not read: store them in the file"
    if series.data is None or np.ndim(series.data) < 3:
        return f"{path} is not a movie (data of shape {np.shape(series.data)})"
    if len(series.data) < 2:
        return f"{path} holds {len(series.data)} frame; a movie needs at least 2 frames with their times"
    return None


def find_presentations(nwbfile: NWBFile, path_of) -> tuple[list[Presentations], list[str]]:
    """Every stimulus object in the file, by type (patterns A, B and C), and why each image series that
    looked like a movie but cannot be used was left out."""
    found: list[Presentations] = []
    unusable: list[str] = []
    indexed = set()
    for obj in nwbfile.objects.values():
        if isinstance(obj, IndexSeries):
            target = obj.indexed_images if obj.indexed_images is not None else obj.indexed_timeseries
            if target is None:
                continue
            indexed.add(id(target))
            notes: list[str] = []
            path = path_of(obj)
            found.append(
                Presentations(
                    path,
                    _template_source(target, path_of(target), notes),
                    series_times(obj, path),
                    np.asarray(obj.data[:], np.int64),
                    notes=notes,
                )
            )
    for obj in nwbfile.objects.values():
        if isinstance(obj, TimeIntervals) and "frame" in obj.colnames and len(obj) > 0:
            found.append(_table_presentations(nwbfile, obj, path_of))
    for obj in nwbfile.objects.values():
        if not isinstance(obj, ImageSeries) or id(obj) in indexed or "Photon" in obj.neurodata_type:
            continue
        path = path_of(obj)
        if path.startswith("/stimulus/templates/"):
            continue
        reason = _unusable_movie(obj, path)
        if reason is not None:
            unusable.append(reason)
            continue
        frames = np.arange(len(obj.data), dtype=np.int64)
        found.append(Presentations(path, DatasetSource(path, obj.data), series_times(obj, path), frames))
    return found, unusable


def _table_presentations(nwbfile: NWBFile, table: TimeIntervals, path_of) -> Presentations:
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
    notes: list[str] = []
    source = _template_source(templates[template_name], f"/stimulus/templates/{template_name}", notes)
    start = np.asarray(table["start_time"].data[:], np.float64)
    order = np.argsort(start, kind="stable")
    frames = np.asarray(table["frame"].data[:], np.int64)[order]
    return Presentations(path, source, start[order], frames, notes=notes)


def select_presentations(
    found: list[Presentations], requested: str | None, where: str, unusable: list[str] = ()
) -> list[Presentations]:
    """All stimulus objects by default, or the one named by `requested` (name or path).

    With none found, the error says what was found instead and why it is unusable (`unusable`).
    """
    if not found:
        if unusable:
            raise MissingDataError(f"no stimulus movie: {'; '.join(unusable[:2])}", where=where)
        raise MissingDataError(NO_STIMULUS, where=where)
    if requested:
        chosen = [p for p in found if p.name == requested or p.name.endswith("/" + requested.strip("/"))]
        if not chosen:
            raise SessionError(
                f"no stimulus named {requested!r}; available: {', '.join(p.name for p in found)}", where=where
            )
        found = chosen
    for presentations in found:
        check_increasing(presentations.times, presentations.name)
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
    return found


@dataclass(frozen=True)
class Timeline:
    """All presentations merged in time: (P,) arrays, sorted by time."""

    times: np.ndarray
    source: np.ndarray
    frame: np.ndarray
    hold: np.ndarray

    @classmethod
    def merge(cls, presentations: list[Presentations]) -> Timeline:
        times = np.concatenate([p.times for p in presentations])
        source = np.concatenate([np.full(len(p.times), i) for i, p in enumerate(presentations)])
        frame = np.concatenate([p.frames for p in presentations])
        order = np.argsort(times, kind="stable")
        times, source, frame = times[order], source[order], frame[order]
        gaps = np.diff(times)
        typical = float(np.median(gaps[gaps > 0])) if np.any(gaps > 0) else 1.0 / TICK_RATE_HZ
        gaps = np.append(gaps, np.inf)
        hold = np.where(gaps > _BREAK_INTERVALS * typical, typical, gaps)
        return cls(times, source, frame, hold)

    @property
    def span(self) -> tuple[float, float]:
        return float(self.times[0]), float(self.times[-1] + self.hold[-1])

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
