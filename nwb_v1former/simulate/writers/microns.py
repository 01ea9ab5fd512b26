"""`microns` layout, as MICrONS functional sessions on DANDI (000402) look.

The shown frames as one long ImageSeries in acquisition at 60 Hz (every 30 Hz frame flipped twice,
upsampled 2x to 72 x 128, photodiode-jittered timestamps); Fluorescence/RoiResponseSeries<k> at the
slow multi-plane rate (~6.3 Hz) pointing at PlaneSegmentation<k> whose image masks are stored in the
schema's (x, y) order; EyeTracking, PupilTracking and a treadmill velocity stored in cm/s with unit m/s
and conversion 0.01; one intervals table per stimulus kind instead of a trials table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hdmf.data_utils import DataChunkIterator
from pynwb.base import TimeSeries
from pynwb.behavior import BehavioralTimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.image import ImageSeries
from pynwb.ophys import Fluorescence

from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.recording import Recording
from nwb_v1former.simulate.writers.nwb_common import (
    add_ophys,
    compressed,
    eye_tracking,
    new_nwbfile,
    pupil_tracking,
    tick_clock,
    write_nwbfile,
)

GRID_SPACING_UM = 2.5
MONITOR_RATE = 60.0
UPSAMPLE = 2
PHOTODIODE_JITTER_S = 0.0015
INTERVAL_NAMES = {"noise": "Clip", "grating": "Monet2", "objects": "Trippy"}


def monitor_flip_times(recording: Recording, rng: np.random.Generator) -> np.ndarray:
    """Time of every 60 Hz monitor flip: two per 30 Hz tick, with photodiode jitter; (2T,) float64."""
    ideal = recording.tick_times[:, None] + np.array([0.0, 1.0 / MONITOR_RATE])[None, :]
    return ideal.ravel() + rng.uniform(-PHOTODIODE_JITTER_S, PHOTODIODE_JITTER_S, size=ideal.size)


def _flipped_frames(screen: np.ndarray, frames_per_chunk: int = 64):
    """Every tick's frame twice, upsampled 2x; yields (72, 128) uint8 frames, never the whole movie."""
    for start in range(0, len(screen), frames_per_chunk):
        block = screen[start : start + frames_per_chunk]
        block = block.repeat(UPSAMPLE, axis=1).repeat(UPSAMPLE, axis=2)
        yield from block.repeat(2, axis=0)


def _stimulus_intervals(recording: Recording) -> list[TimeIntervals]:
    """One table per stimulus kind: start, stop, clip id and its position in the presentation order."""
    schedule, times, kinds = recording.schedule, recording.tick_times, recording.clip_kinds()
    tables = {}
    for kind, name in INTERVAL_NAMES.items():
        table = TimeIntervals(name=name, description=f"Presentations of simulated '{kind}' clips")
        table.add_column(name="clip_id", description="Simulator clip id; repeats share an id")
        table.add_column(name="trial_index", description="Position of this clip in the presentation order")
        tables[kind] = table
    for index in range(schedule.n_trials):
        clip_id = int(schedule.clip_id[index])
        tables[kinds[clip_id]].add_row(
            start_time=float(times[schedule.start_tick[index]]),
            stop_time=float(times[schedule.stop_tick[index] - 1] + 1 / TICK_RATE_HZ),
            clip_id=clip_id,
            trial_index=index,
        )
    return [table for table in tables.values() if len(table) > 0]


def write_microns(recording: Recording, path: Path, *, overwrite: bool = False) -> Path:
    """Write `recording` as a MICrONS-style NWB file at `path`."""
    nwbfile = new_nwbfile(recording, "microns")
    add_ophys(
        nwbfile,
        recording,
        Fluorescence,
        container_name="Fluorescence",
        series_name="RoiResponseSeries{plane}",
        segmentation_name="PlaneSegmentation{plane}",
        mask="image_xy",
        grid_spacing_um=GRID_SPACING_UM,
    )
    rng = np.random.default_rng([recording.config.seed, recording.config.animal, 60])
    height, width = recording.screen.shape[1:]
    movie = DataChunkIterator(
        data=_flipped_frames(recording.screen),
        maxshape=(2 * len(recording.screen), UPSAMPLE * height, UPSAMPLE * width),
        dtype=np.dtype("uint8"),
        buffer_size=128,
    )
    nwbfile.add_acquisition(
        ImageSeries(
            name="stimulus_movie",
            data=compressed(movie, chunks=(16, UPSAMPLE * height, UPSAMPLE * width)),
            unit="n.a.",
            format="raw",
            timestamps=compressed(monitor_flip_times(recording, rng)),
            description="Frames on the monitor at each 60 Hz flip (photodiode-timed), grey between clips.",
        )
    )
    for table in _stimulus_intervals(recording):
        nwbfile.add_time_intervals(table)

    behavior, clock = recording.behavior, tick_clock(recording)
    module = nwbfile.create_processing_module("behavior", "Treadmill and eye tracking")
    module.add(
        BehavioralTimeSeries(
            name="BehavioralTimeSeries",
            time_series=[
                TimeSeries(
                    name="treadmill_velocity",
                    data=compressed(behavior.running_speed),
                    unit="m/s",
                    conversion=0.01,
                    description="Treadmill velocity (stored in cm/s)",
                    **clock,
                )
            ],
        )
    )
    radius = behavior.pupil_diameter / 2
    module.add(pupil_tracking(recording, "pupil_major_radius", radius, "mm", "Pupil major radius"))
    module.add(eye_tracking(recording, "eye_position"))
    return write_nwbfile(nwbfile, path, overwrite=overwrite)
