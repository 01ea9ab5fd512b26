"""A stimulus set as a plain video: the screen, refresh by refresh, as its schedule shows it.

For presentation software that plays a movie file rather than reading NWB. The video starts at the
schedule's clock zero and ends with the last presentation; between presentations the screen is `grey`.
It is lossless H.264 (qp 0, yuv444p, full range) at the screen's size and refresh rate, so every pixel
decodes to exactly the value designed (tests/simulate/test_present.py decodes it back). x264's
`ultrafast` preset: at 1080 x 1920, 3.3x the speed of `veryfast` for 8x the file (measured on 2 busy
cores: 57 against 15 refreshes a second, 14 MB against 1.8 MB per 1,000 refreshes).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from tqdm.auto import tqdm

from nwb_v1former.nwb.stimulus_set import Schedule, ScheduleConfig, StimulusSet, upsample

CODEC, PIXEL_FORMAT = "libx264", "yuv444p"
FULL_RANGE = 2  # AVCOL_RANGE_JPEG: pixel values 0-255, no studio-range squeeze


def refresh_plan(
    stimuli: StimulusSet, schedule: Schedule, config: ScheduleConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Per screen refresh, the stimulus shown (-1: grey) and its 30 Hz frame; two (R,) int64 arrays."""
    rate, per_tick = config.frame_rate, config.refreshes_per_tick
    total = round(float(schedule.stop_s[-1]) * rate)
    stimulus, frame = np.full(total, -1, np.int64), np.zeros(total, np.int64)
    for s, start in zip(schedule.stimulus, schedule.start_s, strict=True):
        first = round(float(start) * rate)
        count = len(stimuli.frames[s]) * per_tick
        stimulus[first : first + count] = s
        frame[first : first + count] = np.arange(count) // per_tick
    return stimulus, frame


def write_screen_video(
    stimuli: StimulusSet,
    schedule: Schedule,
    config: ScheduleConfig,
    grey: int,
    path: str | Path,
    progress: bool = False,
) -> int:
    """Encode the screen as `schedule` shows `stimuli` into `path` (an .mp4); returns the refreshes."""
    stimulus, frame = refresh_plan(stimuli, schedule, config)
    height, width = config.screen
    blank = np.full((height, width), grey, np.uint8)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(CODEC, rate=round(config.frame_rate))
        stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
        stream.codec_context.color_range = FULL_RANGE
        stream.options = {"qp": "0", "preset": "ultrafast"}
        previous, picture = None, None
        plan = tqdm(
            enumerate(zip(stimulus, frame, strict=True)),
            total=len(stimulus),
            desc="screen video",
            unit="refresh",
            disable=not progress,
        )
        for refresh, (s, f) in plan:
            if (s, f) != previous:
                pixels = blank if s < 0 else upsample(stimuli.frames[s][f : f + 1], config.scale, 1)[0]
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="gray")
                picture.color_range = FULL_RANGE
                previous = (s, f)
            picture.pts = refresh
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return len(stimulus)
