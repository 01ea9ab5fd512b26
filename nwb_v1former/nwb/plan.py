"""What the reader will use in one NWB file: its response planes, stimulus, behaviour and the 30 Hz
grid laid over the span where stimulus and responses overlap; `read.py` then reads it into a store.

Planning reads clocks, ROI tables and a few sample frames, never the responses or the movie in full,
so `inspect` shows the plan quickly (`read.conversion_problems` then converts it into a scratch folder).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pynwb import NWBFile
from pynwb.base import TimeSeries

from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.behavior import behavior_candidates
from nwb_v1former.nwb.choices import READER_DEFAULTS, ReaderChoices
from nwb_v1former.nwb.discover import NWBSource, as_source, object_path, open_nwb, opened_version
from nwb_v1former.nwb.external_video import VideoSource
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.nwb.rois import ResponsePlane, choose_planes
from nwb_v1former.nwb.stimulus import Presentations, Timeline, find_presentations, select_presentations
from nwb_v1former.nwb.trial_intervals import TrialSpans, trial_spans

TICK_TOLERANCE_S = 0.25 / TICK_RATE_HZ
"""Stimulus flips within this much after a tick count as on screen at that tick (photodiode jitter)."""


@dataclass
class SessionPlan:
    """What the reader found in one file and will use: responses, stimulus, behaviour, the 30 Hz grid.

    The NWB objects it holds are readable only while the file is open (inside `open_session`).
    """

    file: NWBSource
    nwbfile: NWBFile
    nwb_version: str
    identifier: str
    subject_id: str | None
    session_id: str | None
    planes: list[ResponsePlane]
    plane_times: list[np.ndarray]
    presentations: list[Presentations]
    timeline: Timeline
    tick_times: np.ndarray
    behavior_series: list[tuple[str, TimeSeries]]
    trials: TrialSpans
    choices: ReaderChoices = READER_DEFAULTS
    notes: list[str] = field(default_factory=list)

    @property
    def n_neurons(self) -> int:
        return sum(len(plane.roi_ids) for plane in self.planes)

    @property
    def n_ticks(self) -> int:
        return len(self.tick_times)

    def summary(self) -> dict:
        """What will be used, as plain data (for `inspect` and meta.json)."""
        return {
            "responses": [plane.path for plane in self.planes],
            "neurons": self.n_neurons,
            "coordinate_unit": self.planes[0].coordinate_unit,
            "stimulus": [p.name for p in self.presentations],
            "reader_choices": self.choices.to_dict(),
            "trials_from": self.trials.origin,
            "ticks": self.n_ticks,
            "start_time": float(self.tick_times[0]),
            "stop_time": float(self.tick_times[-1]),
            "notes": list(self.notes),
        }


def plan_session(
    nwbfile: NWBFile, path: NWBSource, version: str, choices: ReaderChoices = READER_DEFAULTS
) -> SessionPlan:
    """Choose responses and stimulus, check they overlap in time, lay the 30 Hz grid over the overlap,
    and find the trials in it."""
    where = str(path)
    try:
        planes = choose_planes(nwbfile, choices.responses, where)
    except MissingDataError:
        raw = [object_path(s) for s in nwbfile.acquisition.values() if "Photon" in s.neurodata_type]
        if not raw:
            raise
        raise MissingDataError(
            f"raw imaging only ({', '.join(raw)}), no ROI responses: use the processed file of this "
            "session (on DANDI, the one beside it), or segment the movie first (e.g. suite2p, then "
            "neuroconv)",
            where=where,
        ) from None
    found, unusable = find_presentations(nwbfile, object_path, path, choices.order_rule)
    presentations, stimulus_notes = select_presentations(found, choices.stimulus, where, unusable)
    timeline = Timeline.merge(presentations)
    clocks = [plane.frame_times() for plane in planes]  # read once per plane
    plane_times = [times for times, _ in clocks]
    response_start = max(times[0] for times in plane_times)
    response_stop = min(times[-1] for times in plane_times)
    stimulus_start, stimulus_stop = timeline.span
    start, stop = max(stimulus_start, response_start), min(stimulus_stop, response_stop)
    if stop - start < 1.0 / TICK_RATE_HZ:
        raise SessionError(
            f"the stimulus ({stimulus_start:.2f}-{stimulus_stop:.2f} s) and the responses "
            f"({response_start:.2f}-{response_stop:.2f} s) do not overlap in time; are they on one clock?",
            where=where,
        )
    # Ticks are phase-locked to the first stimulus frame, so 30 Hz movies land exactly on ticks.
    first = np.ceil((start - stimulus_start) * TICK_RATE_HZ - 1e-6)
    n_ticks = int(np.floor((stop - stimulus_start) * TICK_RATE_HZ + 1e-6) - first) + 1
    tick_times = stimulus_start + (first + np.arange(n_ticks)) / TICK_RATE_HZ
    behavior = behavior_candidates(nwbfile.objects.values())
    trials = trial_spans(nwbfile, timeline, presentations, object_path, TICK_TOLERANCE_S)
    clock_notes = [note for _, plane_notes in clocks for note in plane_notes]
    notes = clock_notes + stimulus_notes + [note for p in presentations for note in p.notes] + trials.notes
    return SessionPlan(
        file=path,
        nwbfile=nwbfile,
        nwb_version=version,
        identifier=nwbfile.identifier,
        subject_id=None if nwbfile.subject is None else nwbfile.subject.subject_id,
        session_id=nwbfile.session_id,
        planes=planes,
        plane_times=plane_times,
        presentations=presentations,
        timeline=timeline,
        tick_times=tick_times,
        behavior_series=behavior,
        trials=trials,
        choices=choices,
        notes=notes,
    )


@contextlib.contextmanager
def open_session(
    path: str | Path | RemoteFile, choices: ReaderChoices = READER_DEFAULTS
) -> Iterator[SessionPlan]:
    """Open a file (local, or remote and read in place) and plan its conversion; open inside the block.

    Every SessionError raised inside names the file.
    """
    path = as_source(path)
    try:
        with open_nwb(path) as nwbfile:
            plan = plan_session(nwbfile, path, opened_version(nwbfile), choices)
            try:
                yield plan
            finally:
                for presentation in plan.presentations:
                    if isinstance(presentation.source, VideoSource):
                        presentation.source.close()
    except SessionError as error:
        raise error.within(path) from None
