"""Lab sessions whose stimulus movie is in external video files, written as the archive's tools write them.

- neuroconv's ExternalVideoInterface (read from neuroconv 0.10): one `ImageSeries(format="external")`
  per interface in acquisition, `external_file` the paths it was given, `starting_frame` the cumulative
  frame counts of several files, and either `timestamps` (irregular, e.g. files with a gap between them)
  or `starting_time` + `rate` + `num_samples` (regular); described "Video recorded by camera.".
- `dandi organize --update-external-file-paths` (dandi 0.81): the NWB file renamed to
  `sub-<id>/sub-<id>_ses-<id>_....nwb`, each video of a series in acquisition copied to
  `<nwb stem>/<object id>_external_file_<k>.<ext>` beside it and `external_file` rewritten to that path.

Videos are lossless (FFV1 in AVI, through OpenCV, as labs' acquisition software often writes them),
except where a test asks for H.264 in MP4 (PyAV's encoder); frame j of file k is uniform with its own
value unless a test gives the frames, so the store's pixel says which frame was on the screen, and
`Screen` says when it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from archive_layouts import Screen, _write, add_dff, imaging_clock, new_file
from pynwb.file import Subject
from pynwb.ophys import Fluorescence

FRAME_SIZE = (18, 32)
"""(height, width) of the test videos."""
RATE = 30.0


def uniform_video(values: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 RGB frames, frame j uniformly grey `values[j]`."""
    return np.broadcast_to(np.asarray(values, np.uint8)[:, None, None, None], (len(values), *FRAME_SIZE, 3))


def write_video(path: Path, frames: np.ndarray) -> Path:
    """A video of RGB `frames` (n, h, w, 3) uint8. `.avi`: lossless FFV1 through OpenCV; `.mp4`: H.264
    with B-frames through PyAV (lossy: within 2 grey levels)."""
    if path.suffix == ".avi":
        import cv2

        height, width = frames.shape[1:3]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), RATE, (width, height))
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV writes BGR
        writer.release()
        return path
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(RATE), options={"crf": "1", "bf": "2"})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv444p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), "rgb24")))
        container.mux(stream.encode(None))
    return path


def external_session(
    folder: Path,
    files: list[np.ndarray],
    *,
    gap_s: float = 0.0,
    start_s: float = 1.0,
    camera: bool = True,
    suffix: str = ".avi",
    video: list[np.ndarray] | None = None,
) -> tuple[Path, Screen]:
    """A lab session written with neuroconv: the stimulus in one external-file ImageSeries over the video
    files whose frames have `files[k]` values (file k starts `gap_s` after file k-1 ends: timestamps
    when there is a gap, rate and num_samples when not), an eye camera's video beside it (when `camera`),
    and Suite2p-style traces; `video[k]`, when given, are file k's frames instead of uniform ones.
    Returns the NWB file and what was on the screen."""
    from neuroconv.datainterfaces import ExternalVideoInterface

    folder.mkdir(parents=True, exist_ok=True)
    screen = Screen()
    paths, stamps, time = [], [], start_s
    for index, values in enumerate(files):
        frames = uniform_video(values) if video is None else video[index]
        paths.append(write_video(folder / f"stimulus_{index}{suffix}", frames))
        times = time + np.arange(len(values)) / RATE
        stamps.append(times)
        for moment, value in zip(times, values, strict=True):
            screen.add(moment, moment + 1 / RATE, int(value))
        time = times[-1] + 1 / RATE + gap_s
    nwbfile = new_file("lab-external")
    nwbfile.subject = Subject(subject_id="m1", species="Mus musculus", sex="F", age="P90D")
    stimulus = ExternalVideoInterface(file_paths=paths, verbose=False, video_name="StimulusMovie")
    if gap_s:
        stimulus.set_aligned_timestamps(stamps)
    else:
        stimulus.set_aligned_starting_time(start_s)
    stimulus.add_to_nwbfile(nwbfile, metadata=stimulus.get_metadata())
    if camera:
        eye = write_video(folder / f"eye{suffix}", uniform_video(np.full(40, 7)))
        interface = ExternalVideoInterface(file_paths=[eye], verbose=False, video_name="EyeCamera")
        interface.add_to_nwbfile(nwbfile, metadata=interface.get_metadata())
    add_dff(nwbfile, imaging_clock(time + 1.0), container=Fluorescence, name="Fluorescence", series="Traces")
    return _write(nwbfile, folder / "session.nwb"), screen


def organize(nwb: Path, dandiset: Path) -> Path:
    """`dandi organize --files-mode copy --update-external-file-paths --media-files-mode copy` of one
    file into a new dandiset folder; returns the organized NWB file."""
    from dandi.organize import CopyMode, FileOperationMode, organize

    dandiset.mkdir(parents=True)
    (dandiset / "dandiset.yaml").write_text("identifier: '000999'\nname: external video test\n")
    organize(
        [str(nwb)],
        dandiset_path=str(dandiset),
        files_mode=FileOperationMode.COPY,
        update_external_file_paths=True,
        media_files_mode=CopyMode.COPY,
        jobs=1,
    )
    (organized,) = dandiset.rglob("*.nwb")
    return organized


def move_session(nwb: Path, to: Path) -> Path:
    """The NWB file moved elsewhere without its videos (as a user copying only the .nwb would)."""
    to.mkdir(parents=True, exist_ok=True)
    return Path(shutil.move(nwb, to / nwb.name))
