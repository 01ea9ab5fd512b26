"""`allen` layout, as Allen Brain Observatory sessions on DANDI (000728) look.

DfOverF + PlaneSegmentation with pixel masks under processing/ophys; the movie frames as an Images
template in stimulus_template (one GrayscaleImage per frame, with order_of_images), indexed frame by
frame by an IndexSeries with timestamps in stimulus; running speed, pupil size and pupil location under
processing/behavior; a trials table with each clip presentation and its tier.

Allen's files on DANDI point the IndexSeries at an ImageSeries template instead; pynwb only reads that
deprecated form (nwbinspector flags it), so the simulator writes the current one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pynwb.base import ImageReferences, Images, TimeSeries
from pynwb.behavior import BehavioralTimeSeries
from pynwb.image import GrayscaleImage, IndexSeries
from pynwb.ophys import DfOverF

from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.recording import Recording
from nwb_v1former.simulate.writers.nwb_common import (
    add_ophys,
    behavior_module,
    compressed,
    eye_tracking,
    new_nwbfile,
    pupil_tracking,
    tick_clock,
    write_nwbfile,
)

GRID_SPACING_UM = 1.0


def template_frames(recording: Recording) -> tuple[np.ndarray, dict[int, int]]:
    """All clips, one after another, and where each clip starts in that stack."""
    clip_ids = sorted(recording.clips)
    offsets = dict(
        zip(clip_ids, np.cumsum([0] + [len(recording.clips[c]) for c in clip_ids[:-1]]).tolist(), strict=True)
    )
    return np.concatenate([recording.clips[c] for c in clip_ids]), offsets


def shown_frame_indices(recording: Recording, offsets: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For every tick inside a clip: (tick index, index into the template stack)."""
    schedule = recording.schedule
    ticks, frames = [], []
    for clip_id, start, stop in zip(schedule.clip_id, schedule.start_tick, schedule.stop_tick, strict=True):
        ticks.append(np.arange(start, stop))
        frames.append(offsets[int(clip_id)] + np.arange(stop - start))
    return np.concatenate(ticks), np.concatenate(frames)


def add_trials(nwbfile, recording: Recording, *, with_tier: bool) -> None:
    """One row per clip presentation: start and stop on the session clock, clip id (and tier)."""
    schedule, times = recording.schedule, recording.tick_times
    nwbfile.add_trial_column(name="clip_id", description="Simulator clip id; repeats share an id")
    if with_tier:
        nwbfile.add_trial_column(name="tier", description="Data split: train, oracle or final_test_main")
    for index in range(schedule.n_trials):
        row = {
            "start_time": float(times[schedule.start_tick[index]]),
            "stop_time": float(times[schedule.stop_tick[index] - 1] + 1 / TICK_RATE_HZ),
            "clip_id": int(schedule.clip_id[index]),
        }
        if with_tier:
            row["tier"] = str(schedule.tier[index])
        nwbfile.add_trial(**row)


def write_allen(recording: Recording, path: Path, *, overwrite: bool = False) -> Path:
    """Write `recording` as an Allen-style NWB file at `path`."""
    nwbfile = new_nwbfile(recording, "allen")
    add_ophys(
        nwbfile,
        recording,
        DfOverF,
        container_name="DfOverF",
        series_name="DfOverF" if recording.config.planes == 1 else "DfOverF_plane{plane}",
        segmentation_name="PlaneSegmentation" if recording.config.planes == 1 else "PlaneSegmentation{plane}",
        mask="pixel",
        grid_spacing_um=GRID_SPACING_UM,
    )
    frames, offsets = template_frames(recording)
    images = [
        GrayscaleImage(name=f"frame{index:06d}", data=frame, description=f"Template frame {index}")
        for index, frame in enumerate(frames)
    ]
    template = Images(
        name="natural_movies",
        images=images,
        description="Every simulated clip, frame by frame, one after another (36 x 64 pixels, 0-255).",
        order_of_images=ImageReferences(name="order_of_images", data=images),
    )
    nwbfile.add_stimulus_template(template)
    ticks, frame_index = shown_frame_indices(recording, offsets)
    nwbfile.add_stimulus(
        IndexSeries(
            name="natural_movies_presentations",
            data=compressed(frame_index.astype(np.uint32)),
            indexed_images=template,
            unit="N/A",
            timestamps=compressed(recording.tick_times[ticks]),
            description="Template frame shown at each timestamp (the screen is grey between clips).",
        )
    )
    add_trials(nwbfile, recording, with_tier=not recording.config.only_repeats)

    behavior, clock = recording.behavior, tick_clock(recording)
    module = behavior_module(nwbfile)
    running = TimeSeries(
        name="running_speed",
        data=compressed(behavior.running_speed),
        **clock,
        unit="cm/s",
        description="Running speed on the wheel",
    )
    module.add(BehavioralTimeSeries(name="BehavioralTimeSeries", time_series=[running]))
    module.add(pupil_tracking(recording, "pupil_size", behavior.pupil_diameter, "mm", "Pupil diameter"))
    module.add(eye_tracking(recording, "pupil_location"))
    return write_nwbfile(nwbfile, path, overwrite=overwrite)
