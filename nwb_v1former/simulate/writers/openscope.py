"""`openscope` layout, as newer OpenScope sessions on DANDI (000617, 000871) look.

processing/ophys/dff/traces (DfOverF) pointing at image_segmentation/cell_specimen_table (image masks
plus x, y, width, height columns); the movie as an ImageSeries template in stimulus_template; one row
per shown frame in intervals/natural_movies_presentations, whose `frame` column indexes the template;
running speed in processing/running; pupil area and eye position in processing/eye_tracking. No
trials table: trials are the runs of consecutive presentations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pynwb.base import TimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.image import ImageSeries
from pynwb.ophys import DfOverF

from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.simulate.recording import Recording
from nwb_v1former.simulate.writers.allen import shown_frame_indices, template_frames
from nwb_v1former.simulate.writers.nwb_common import (
    add_ophys,
    centers_px,
    compressed,
    eye_tracking,
    new_nwbfile,
    pupil_tracking,
    tick_clock,
    write_nwbfile,
)

GRID_SPACING_UM = 1.5


def _presentations(recording: Recording) -> TimeIntervals:
    """One row per frame shown: start, stop, template frame, and the presentation (trial) it belongs to."""
    offsets = template_frames(recording)[1]
    ticks, frames = shown_frame_indices(recording, offsets)
    schedule = recording.schedule
    trial = np.repeat(np.arange(schedule.n_trials), schedule.stop_tick - schedule.start_tick)
    table = TimeIntervals(
        name="natural_movies_presentations",
        description="Every frame of the natural-like movies as shown, in presentation order.",
    )
    table.add_column(name="frame", description="Index into stimulus_template/natural_movies")
    table.add_column(name="stimulus_block", description="Presentation (clip) number, in order")
    table.add_column(name="stimulus_name", description="Name of the template")
    start = recording.tick_times[ticks]
    for row in range(len(ticks)):
        table.add_row(
            start_time=float(start[row]),
            stop_time=float(start[row] + 1.0 / TICK_RATE_HZ),
            frame=int(frames[row]),
            stimulus_block=int(trial[row]),
            stimulus_name="natural_movies",
        )
    return table


def write_openscope(recording: Recording, path: Path, *, overwrite: bool = False) -> Path:
    """Write `recording` as an OpenScope-style NWB file at `path`."""
    nwbfile = new_nwbfile(recording, "openscope")
    add_ophys(
        nwbfile,
        recording,
        DfOverF,
        container_name="dff",
        series_name="traces" if recording.config.planes == 1 else "traces_plane{plane}",
        segmentation_name="cell_specimen_table"
        if recording.config.planes == 1
        else "cell_specimen_table{plane}",
        segmentation_container_name="image_segmentation",
        mask="image",
        grid_spacing_um=GRID_SPACING_UM,
    )
    _add_cell_geometry(nwbfile, recording)
    frames, _ = template_frames(recording)
    nwbfile.add_stimulus_template(
        ImageSeries(
            name="natural_movies",
            data=compressed(frames, chunks=(min(32, len(frames)), *frames.shape[1:])),
            unit="n.a.",
            format="raw",
            starting_time=0.0,
            rate=TICK_RATE_HZ,
            description="Every simulated clip, one after another; presentation tables index its frames.",
        )
    )
    nwbfile.add_time_intervals(_presentations(recording))

    behavior, clock = recording.behavior, tick_clock(recording)
    running = nwbfile.create_processing_module("running", "Running wheel")
    running.add(
        TimeSeries(
            name="speed",
            data=compressed(behavior.running_speed),
            unit="cm/s",
            description="Running speed",
            **clock,
        )
    )
    eye = nwbfile.create_processing_module("eye_tracking", "Eye tracking")
    area = np.pi * (behavior.pupil_diameter / 2) ** 2
    eye.add(pupil_tracking(recording, "pupil_area", area, "mm^2", "Pupil area"))
    eye.add(eye_tracking(recording, "eye_position"))
    return write_nwbfile(nwbfile, path, overwrite=overwrite)


def _add_cell_geometry(nwbfile, recording: Recording) -> None:
    """The x, y, width, height columns the AllenSDK writes beside each cell's image mask (pixels)."""
    segmentations = nwbfile.processing["ophys"]["image_segmentation"].plane_segmentations
    for index, segmentation in enumerate(segmentations.values()):
        neurons = np.flatnonzero(recording.population.plane == index)
        centers = centers_px(recording, neurons, GRID_SPACING_UM)
        size = int(np.ceil(2 * 6.0 / GRID_SPACING_UM))
        segmentation.add_column(
            name="x",
            description="Left edge of the bounding box (pixels)",
            data=np.rint(centers[:, 1] - size / 2).astype(int),
        )
        segmentation.add_column(
            name="y",
            description="Top edge of the bounding box (pixels)",
            data=np.rint(centers[:, 0] - size / 2).astype(int),
        )
        segmentation.add_column(
            name="width", description="Bounding box width (pixels)", data=np.full(len(neurons), size)
        )
        segmentation.add_column(
            name="height", description="Bounding box height (pixels)", data=np.full(len(neurons), size)
        )
