"""A planned session (`plan.py`) read onto the 30 Hz grid and streamed into a store folder, block by
block, so memory does not grow with the session's length.

Video: the frame on screen at every tick. Responses: each plane resampled from its imaging clock, NaN
frames bridged or refused. Behaviour, trials and tiers, statistics, and meta.json saying what was done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from nwb_v1former import __version__
from nwb_v1former.atomic import scratch_folder
from nwb_v1former.data.stats import compute_statistics
from nwb_v1former.data.store import StoreWriter
from nwb_v1former.errors import SessionError, detail
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.behavior import NEUTRAL_VALUE, behavior_on_ticks
from nwb_v1former.nwb.discover import read_warnings
from nwb_v1former.nwb.frames import BLANK_VALUE
from nwb_v1former.nwb.plan import TICK_TOLERANCE_S, SessionPlan
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.nwb.rois import ResponsePlane
from nwb_v1former.nwb.stimulus import Presentations
from nwb_v1former.nwb.timing import linear_weights, scale
from nwb_v1former.nwb.trials import build_trials

BLOCK_TICKS = 2048
FRAMES_PER_READ = 256
READ_PIXELS = 2**25
"""At most FRAMES_PER_READ raw frames, and at most this many raw values (pixels x channels), are read and
processed at once: memory stays bounded whatever the movie's frame size (1080p RGB: 5 frames)."""
READERS = 2
"""Threads reading and processing frames of streamed movies: one decodes while another processes."""
MAX_NAN_FRACTION = 0.05


@dataclass
class _VideoBlock:
    """One block of ticks: which presentation is on screen at each tick, and reads already under way."""

    start: int
    shown: np.ndarray
    reads: dict[int, list[tuple[np.ndarray, Future]]] = field(default_factory=dict)


class _InTurn:
    """Reads of one source made in the order they were submitted, whichever thread runs them (a video
    decodes forward only); each thread then processes what it read while the next one reads."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._issued = 0
        self._next = 0

    def ticket(self) -> int:
        """The place of a read about to be submitted (called by the submitting thread only)."""
        self._issued += 1
        return self._issued - 1

    def read(self, ticket: int, presentation: Presentations, indices: np.ndarray) -> np.ndarray:
        with self._turn:
            self._turn.wait_for(lambda: self._next == ticket)
            try:
                return presentation.source.read(indices)
            finally:
                self._next += 1
                self._turn.notify_all()


def _next_block(
    plan: SessionPlan, start: int, streamed: list[_InTurn | None], reader: ThreadPoolExecutor
) -> _VideoBlock:
    """Find the frames a block needs and start reading those of streamed (once-shown) sources."""
    shown = plan.timeline.at(plan.tick_times[start : start + BLOCK_TICKS], TICK_TOLERANCE_S)
    block = _VideoBlock(start, shown)
    visible = shown[shown >= 0]
    for source_index in np.unique(plan.timeline.source[visible]):
        turns = streamed[source_index]
        if turns is not None:
            presentation = plan.presentations[source_index]
            wanted = np.unique(plan.timeline.frame[visible][plan.timeline.source[visible] == source_index])
            step = frames_per_read(presentation)
            block.reads[source_index] = [
                (chunk, reader.submit(_read_processed, presentation, chunk, turns, turns.ticket()))
                for chunk in np.array_split(wanted, range(step, len(wanted), step))
            ]
    return block


def _read_processed(
    presentation: Presentations, indices: np.ndarray, turns: _InTurn, ticket: int
) -> np.ndarray:
    """Frames `indices` of a stimulus read in turn, then processed: (k, 36, 64) uint8. The reading
    threads do both, so a block read ahead holds small frames, not raw ones."""
    return presentation.processor(turns.read(ticket, presentation, indices))


def frames_per_read(presentation: Presentations) -> int:
    """How many raw frames of a stimulus are read and processed at once (see READ_PIXELS)."""
    return int(np.clip(READ_PIXELS // max(1, np.prod(presentation.raw_shape[1:])), 1, FRAMES_PER_READ))


@contextlib.contextmanager
def _cancelled_on_failure(reader: ThreadPoolExecutor) -> Iterator[None]:
    """Reads not yet started are dropped when the block fails (a damaged frame, an interrupt), so the
    error is not held back while a block's worth of reads runs for nothing."""
    try:
        yield
    except BaseException:
        reader.shutdown(wait=False, cancel_futures=True)
        raise


def _write_video(plan: SessionPlan, video: np.ndarray, progress: tqdm) -> None:
    """The frame on screen at every tick, block by block.

    Frames of long movies shown once (pattern C) are read and processed one block ahead on READERS
    threads while the current block is written; templates (frames shown many times) are processed once
    and cached.
    """
    streamed = [_InTurn() if len(np.unique(p.frames)) == len(p.frames) else None for p in plan.presentations]
    cache: dict[tuple[int, int], np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=READERS) as reader, _cancelled_on_failure(reader):
        upcoming = _next_block(plan, 0, streamed, reader)
        while upcoming is not None:
            current = upcoming
            following = current.start + BLOCK_TICKS
            upcoming = _next_block(plan, following, streamed, reader) if following < plan.n_ticks else None
            block = np.full((len(current.shown), *video.shape[1:]), BLANK_VALUE, np.uint8)
            rows = np.flatnonzero(current.shown >= 0)
            sources = plan.timeline.source[current.shown[rows]]
            frames = plan.timeline.frame[current.shown[rows]]
            for source_index in np.unique(sources):
                presentation = plan.presentations[source_index]
                mine = sources == source_index
                if streamed[source_index] is not None:
                    local = {}
                    for chunk, future in current.reads[source_index]:
                        local.update(zip(chunk.tolist(), future.result(), strict=True))
                    block[rows[mine]] = np.stack([local[int(f)] for f in frames[mine]])
                    continue
                missing = np.array(
                    [f for f in np.unique(frames[mine]) if (source_index, f) not in cache], np.int64
                )
                step = frames_per_read(presentation)
                for chunk in range(0, len(missing), step):
                    indices = missing[chunk : chunk + step]
                    processed = presentation.processor(presentation.source.read(indices))
                    cache.update({(source_index, int(f)): p for f, p in zip(indices, processed, strict=True)})
                block[rows[mine]] = np.stack([cache[(source_index, int(f))] for f in frames[mine]])
            video[current.start : current.start + len(block)] = block
            progress.update(len(block))


def _nan_counts(plane: ResponsePlane) -> tuple[np.ndarray, np.ndarray]:
    """Non-finite values per imaging frame (M,) and per column (n,), in one streaming pass."""
    per_frame = np.empty(plane.n_frames, np.int64)
    per_column = np.zeros(len(plane.roi_ids), np.int64)
    step = max(1, (8 << 20) // (4 * max(1, len(plane.roi_ids))))
    for start in range(0, plane.n_frames, step):
        block = plane.frames(start, start + step)
        bad = ~np.isfinite(block)
        per_frame[start : start + len(block)] = bad.sum(axis=1)
        per_column += bad.sum(axis=0)
    return per_frame, per_column


def _resample_plane(
    plane: ResponsePlane, times: np.ndarray, kept: np.ndarray | None, ticks: np.ndarray, out: np.ndarray
) -> bool:
    """Linearly resample one plane's responses to the ticks into `out` (T, n), block by block.

    With `kept` None every frame is used and the pass stops, returning False, at the first NaN it meets
    (the caller then finds the finite frames and runs again with `kept`, bridging the NaN frames).
    """
    frames = np.arange(len(times)) if kept is None else kept
    left, right, weight = linear_weights(times[frames], ticks)
    left, right = frames[left], frames[right]
    weight = weight.astype(np.float32)[:, None]
    conversion, offset = scale(plane.series)
    for start in range(0, len(ticks), BLOCK_TICKS):
        stop = min(start + BLOCK_TICKS, len(ticks))
        lo, hi = int(left[start:stop].min()), int(right[start:stop].max()) + 1
        data = plane.frames(lo, hi).astype(np.float32, copy=False)
        if kept is None and not np.isfinite(data).all():
            return False
        w = weight[start:stop]
        values = (1 - w) * data[left[start:stop] - lo] + w * data[right[start:stop] - lo]
        out[start:stop] = values * conversion + offset if (conversion, offset) != (1.0, 0.0) else values
    return True


def conversion_problems(plan: SessionPlan, *, max_nan_fraction: float) -> tuple[list[str], list[str]]:
    """Why `convert` would stop on this plan (empty: it will succeed), and the notes it would record,
    for `inspect`.

    A local file is converted into a scratch folder in TMPDIR that is then removed, so every check of
    `convert` runs: clocks, NaN frames, damaged chunks, behaviour, trials and the split. A remote file
    is not read in full (that would download it): its behaviour is resampled, and its split checked
    when every trial shows template frames (the ids are then known without reading a movie).
    """
    try:
        if isinstance(plan.file, RemoteFile):
            behavior = behavior_on_ticks(plan.behavior_series, plan.tick_times)
            first, end, tiers, shown, _ = plan.trials.on_ticks(plan.tick_times, TICK_TOLERANCE_S)
            if all(shown):
                build_trials(first, end, np.empty((0, 0)), tiers, plan.choices.split_rule, shown)
            return [], plan.notes + behavior.notes
        with scratch_folder("inspect") as scratch:
            notes = write_store(
                plan,
                scratch / "session",
                max_nan_fraction=max_nan_fraction,
                progress=False,
            )
    except SessionError as error:
        return [error.within(plan.file).problem], []
    except OSError as error:
        problem = (
            f"its scratch conversion in TMPDIR could not be written ({detail(error)}); set TMPDIR elsewhere"
        )
        return [problem], []
    return [], notes


def _ids(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _write_responses(
    plan: SessionPlan, responses: np.ndarray, max_nan_fraction: float
) -> tuple[dict[str, int], list[str]]:
    """Each plane's columns resampled to the ticks; NaN frames (if any) dropped, bridged and counted.

    A column NaN in every frame (a dead ROI) is refused by name, or with `max_nan_fraction` 1 kept as
    zeros (a note says which); the other columns' NaN frames are then bridged as usual.
    """
    dropped, notes = {}, []
    column = 0
    for plane, times in zip(plan.planes, plan.plane_times, strict=True):
        out = responses[:, column : column + len(plane.roi_ids)]
        dropped[plane.path] = 0
        if not _resample_plane(plane, times, None, plan.tick_times, out):
            per_frame, per_column = _nan_counts(plane)
            dead = per_column == len(per_frame)
            if dead.all():
                raise SessionError(f"{plane.path} is NaN in every frame of every ROI", where=plan.file)
            if dead.any() and max_nan_fraction < 1:
                raise SessionError(
                    f"{plane.path}: ROI {_ids(plane.roi_ids[dead])} is NaN in every frame; "
                    "remove it from the file, or convert with --max-nan-fraction 1 to keep it as zeros",
                    where=plan.file,
                )
            good = per_frame == dead.sum()
            fraction = 1 - good.mean()
            if fraction > max_nan_fraction or not good.any():
                worst = int(np.argmax(np.where(dead, -1, per_column)))
                raise SessionError(
                    f"{plane.path} has NaN in {fraction:.1%} of its frames (limit "
                    f"{max_nan_fraction:.0%}; most in ROI {int(plane.roi_ids[worst])}: "
                    f"{per_column[worst] / len(per_frame):.1%}); fix the file or raise --max-nan-fraction",
                    where=plan.file,
                )
            dropped[plane.path] = int((~good).sum())
            _resample_plane(plane, times, np.flatnonzero(good), plan.tick_times, out)
            if dead.any():
                out[:, dead] = 0.0
                notes.append(f"{plane.path}: ROI {_ids(plane.roi_ids[dead])} NaN in every frame, set to 0")
        column += len(plane.roi_ids)
    return dropped, notes


def write_store(
    plan: SessionPlan,
    folder: Path,
    *,
    max_nan_fraction: float,
    progress: bool,
    origin: Mapping[str, str] | None = None,
) -> list[str]:
    """Stream one planned session into a store folder (memory does not grow with session length);
    returns the notes meta.json records (what was chosen, repaired or dropped).

    Trials get their tiers as `plan.choices.split_rule` says (nwb_v1former.nwb.trials.SPLITS).

    `origin` (e.g. a DANDI asset's dandiset, version, path and id) is recorded in meta.json's source.
    """
    writer = StoreWriter(folder, plan.n_ticks, plan.n_neurons)
    with ThreadPoolExecutor(max_workers=1) as helper:  # mask centroids are computed beside the video
        located = helper.submit(lambda: [p.coordinates() for p in plan.planes])
        with tqdm(
            total=plan.n_ticks, desc=plan.file.name, unit="tick", disable=not progress, leave=False
        ) as bar:
            _write_video(plan, writer["video"], bar)
        coordinates = np.concatenate([c for c, _ in located.result()])
        roi_notes = [note for _, notes in located.result() for note in notes]
    dropped, response_notes = _write_responses(plan, writer["responses"], max_nan_fraction)
    behavior = behavior_on_ticks(plan.behavior_series, plan.tick_times)
    writer["behavior"][:] = behavior.behavior
    writer["pupil_center"][:] = behavior.pupil_center
    writer["times"][:] = plan.tick_times
    first, end, source_tiers, shown, trial_notes = plan.trials.on_ticks(plan.tick_times, TICK_TOLERANCE_S)
    trials, tier_rule = build_trials(
        first, end, writer["video"], source_tiers, plan.choices.split_rule, shown
    )
    statistics = compute_statistics(
        writer["video"], writer["responses"], writer["behavior"], writer["pupil_center"], trials
    )
    notes = (
        plan.notes + trial_notes + roi_notes + response_notes + behavior.notes + read_warnings(plan.nwbfile)
    )
    writer.write_small(
        roi_ids=np.concatenate([p.roi_ids for p in plan.planes]),
        coordinates=coordinates,
        plane=np.concatenate([np.full(len(p.roi_ids), p.plane) for p in plan.planes]),
        trials=trials,
        statistics=statistics,
        meta={
            "source": {
                "path": str(plan.file),
                "identifier": plan.identifier,
                "nwb_version": plan.nwb_version,
                **(origin or {}),
            },
            "subject_id": plan.subject_id,
            "session_id": plan.session_id,
            **plan.summary(),
            "tick_rate": TICK_RATE_HZ,
            "original_rates": _original_rates(plan),
            "behavior": {
                "sources": behavior.sources,
                "filled_with_neutral_value": behavior.filled,
                "neutral_value": NEUTRAL_VALUE,
                "columns": ["pupil_size", "running_speed_cm_s"],
            },
            "transforms": _transforms(plan),
            "dropped_response_frames": dropped,
            "tiers": tier_rule,
            "split": plan.choices.split_rule,
            "blank_value": BLANK_VALUE,
            "notes": notes,
            "code_version": __version__,
        },
    )
    return notes


def _original_rates(plan: SessionPlan) -> dict[str, float]:
    rates = {}
    for plane, times in zip(plan.planes, plan.plane_times, strict=True):
        rates[plane.path] = (
            float((len(times) - 1) / (times[-1] - times[0])) if len(times) > 1 else float("nan")
        )
    for presentation in plan.presentations:
        gaps = np.diff(presentation.times)
        rates[presentation.name] = float(1 / np.median(gaps)) if len(gaps) else float("nan")
    return rates


def _transforms(plan: SessionPlan) -> list[str]:
    done = [
        f"{plane.path}: stored ROIs x time {tuple(plane.series.data.shape)}, read transposed"
        for plane in plan.planes
        if plane.transposed
    ]
    done.append(f"responses linearly resampled from each imaging clock to {TICK_RATE_HZ:g} Hz ticks")
    for presentation in plan.presentations:
        done.extend(
            f"{presentation.name}: {t}" for t in presentation.processor.transforms(presentation.raw_shape)
        )
    done.append(f"ticks with no stimulus frame on screen set to grey ({BLANK_VALUE})")
    return done
