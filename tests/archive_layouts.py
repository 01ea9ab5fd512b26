"""Small NWB files written the way the archive's converters write them, with the screen's truth.

Read from the converters' code (see the issue "Real archive layouts"):
- Allen Visual Coding 2p, DANDI 000728 (catalystneuro/visual-coding-to-nwb-v2): movies as ImageSeries
  templates (rate NaN) indexed by `<movie>_stimulus` IndexSeries (legacy `indexed_timeseries`), one row
  per frame, no stop times; natural scenes as `Images` `NaturalScene0..` WITHOUT order_of_images,
  250 ms back to back; gratings as TimeIntervals in /stimulus; `epochs` with `stimulus_type`, edges on
  the imaging clock; no trials table; `running_speed` (cm/s), `PupilTracking/pupil_size` (px),
  `EyeTracking/pupil_location` (m).
- Allen Visual Behavior (AllenSDK): an ImageSeries-based template (AllenSDK's StimulusTemplate adds
  only `unwarped`; its parent type stands in here) indexed by an IndexSeries of FLASH ONSETS named like
  it, `<template>_presentations` with start/stop (250 ms on, 500 ms grey; omitted flashes are rows,
  not in the IndexSeries), a trials table without dead time, `processing/running/speed` and
  `speed_unfiltered`, `acquisition/EyeTracking` (ndx-ellipse-eye-tracking: `eye_tracking`,
  `pupil_tracking`, `corneal_reflection_tracking` EllipseSeries with `area`, linked timestamps).
- neuroconv 0.10 lab session, its videos written by neuroconv's own InternalVideoInterface (from
  lossless FFV1 files made here with OpenCV): every video an RGB ImageSeries in acquisition named
  `Video <stem>`, described "Video recorded by camera.", rate 30; Suite2p-style traces in Fluorescence.

Every shown frame is uniform with its own value (never grey's 128), so the store's pixel says which
frame was on the screen; `Screen` holds when each was shown, from the construction, not the reader.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from nwb_builders import as_read
from pynwb import NWBHDF5IO, NWBFile, get_class, load_namespaces
from pynwb.base import Images, TimeSeries
from pynwb.behavior import BehavioralTimeSeries, EyeTracking, PupilTracking, SpatialSeries
from pynwb.epoch import TimeIntervals
from pynwb.image import GrayscaleImage, ImageSeries, IndexSeries
from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries
from pynwb.spec import NWBDatasetSpec, NWBGroupSpec, NWBNamespaceBuilder

GREY = 128
RNG = np.random.default_rng(7)


@dataclass
class Screen:
    """What was on the screen: (start, stop, value) of every presentation, from the construction."""

    shown: list[tuple[float, float, int]] = field(default_factory=list)

    def add(self, start: float, stop: float, value: int) -> None:
        self.shown.append((start, stop, value))

    def at(self, ticks: np.ndarray, tolerance: float = 0.25 / 30) -> np.ndarray:
        """The value on screen at each tick (GREY where nothing was), with the reader's flip tolerance."""
        values = np.full(len(ticks), GREY)
        for start, stop, value in self.shown:
            values[(ticks + tolerance >= start) & (ticks + tolerance < stop)] = value
        return values


def uniform_frames(values: np.ndarray, shape: tuple[int, ...] = (18, 32)) -> np.ndarray:
    """(n, *shape) uint8 frames, frame k filled with values[k]."""
    return np.broadcast_to(np.asarray(values, np.uint8)[:, None, None], (len(values), *shape)).copy()


def new_file(identifier: str) -> NWBFile:
    return NWBFile(
        session_description="archive layout test",
        identifier=identifier,
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
        session_id=identifier,
    )


def imaging_plane(nwbfile: NWBFile):
    """Allen Visual Coding's imaging plane (000728): VISp, 0.78 um pixels, its depth in the description."""
    return nwbfile.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(name="OpticalChannel", description="green", emission_lambda=520.0),
        description="(400, 400) field of view in VISp at a depth of 175 µm.",
        device=nwbfile.create_device(name="Microscope"),
        excitation_lambda=910.0,
        indicator="GCaMP6f",
        location="VISp",
        grid_spacing=[0.78, 0.78],
        grid_spacing_unit="micrometers",
    )


def add_dff(
    nwbfile: NWBFile,
    times: np.ndarray,
    n_rois: int = 8,
    *,
    container: type = DfOverF,
    name: str = "DfOverF",
    series: str = "DfOverF",
) -> None:
    """Traces of `n_rois` pixel-mask ROIs on the imaging clock `times`, in processing/ophys: the series
    `series` of a `container` (DfOverF or Fluorescence) named `name`."""
    plane = imaging_plane(nwbfile)
    segmentation = ImageSegmentation(name="ImageSegmentation").create_plane_segmentation(
        name="PlaneSegmentation", description="Segmented rois", imaging_plane=plane
    )
    for index, roi in enumerate(range(517000, 517000 + n_rois)):  # Allen's ids: cell specimen ids
        segmentation.add_roi(pixel_mask=[(10 + index, 20, 1.0), (11 + index, 21, 1.0)], id=int(roi))
    module = nwbfile.create_processing_module("ophys", "ophys")
    module.add(segmentation.parent)
    region = segmentation.create_roi_table_region(region=list(range(n_rois)), description="rois")
    data = RNG.random((len(times), n_rois)).astype(np.float32)
    module.add(
        container(
            name=name,
            roi_response_series=RoiResponseSeries(
                name=series, data=data, rois=region, unit="a.u.", timestamps=times
            ),
        )
    )


def imaging_clock(stop: float, rate: float = 30.0) -> np.ndarray:
    """Frame times of a two-photon microscope from 0 to `stop`, with a little jitter."""
    times = np.arange(0.0, stop, 1.0 / rate)
    return times + RNG.uniform(-1e-4, 1e-4, len(times))


def legacy_index(name: str, template: ImageSeries, times: list[float], frames: list[int]) -> IndexSeries:
    """An IndexSeries into an ImageSeries template (`indexed_timeseries`), as Allen's converters wrote
    it; pynwb reads this deprecated form but refuses to create it."""
    return as_read(
        IndexSeries,
        name=name,
        data=np.array(frames, np.uint32),
        indexed_timeseries=template,
        unit="n.a.",
        timestamps=np.array(times),
    )


def _write(nwbfile: NWBFile, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy forms the converters used, which pynwb warns about
        with NWBHDF5IO(path, "w") as io:
            io.write(nwbfile)
    return path


MONITOR_FRAME_S = 2 / 59.95
"""One movie frame on Allen's rigs: two flips of a 59.95 Hz monitor (so the movie drifts from 30 Hz)."""


def write_visual_coding(path: Path) -> tuple[Path, Screen, dict]:
    """An Allen Visual Coding 2p session as on DANDI 000728 (see the module docstring).

    Epochs: natural_movie_one (3 passes), drifting_gratings (no frames in the file), natural_movie_three
    (2 passes), natural_scenes (48 flashes of 12 scenes), natural_movie_three (2 more passes).
    Returns the file, the screen and the expected trials per movie.
    """
    nwbfile = new_file("visual-coding")
    screen = Screen()
    movies = {"natural_movie_one": np.arange(1, 61), "natural_movie_three": np.arange(61, 101)}
    templates = {}
    for name, values in movies.items():
        templates[name] = ImageSeries(
            name=name,
            data=uniform_frames(values),
            unit="n.a.",
            format="raw",
            rate=float("nan"),
            starting_time=float("nan"),
            description="A natural movie presented to the subject.",
        )
        nwbfile.add_stimulus_template(templates[name])
    scenes = [GrayscaleImage(name=f"NaturalScene{k}", data=uniform_frames([101 + k])[0]) for k in range(12)]
    scene_template = Images(name="natural_scenes_template", images=scenes, description="natural scenes")
    nwbfile.add_stimulus_template(scene_template)

    epochs: list[tuple[float, float, str]] = []
    shown: dict[str, tuple[list[float], list[int]]] = {name: ([], []) for name in movies}
    clock = 1.0

    def movie_epoch(name: str, passes: int) -> None:
        nonlocal clock
        begin = clock
        frames = np.tile(np.arange(len(movies[name])), passes)
        flips = clock + MONITOR_FRAME_S * np.arange(len(frames) + 1)
        flips[:-1] += RNG.uniform(-3e-4, 3e-4, len(frames))  # photodiode jitter; each frame until the next
        for frame, start, stop in zip(frames, flips[:-1], flips[1:], strict=True):
            shown[name][0].append(float(start))
            shown[name][1].append(int(frame))
            screen.add(float(start), float(stop), int(movies[name][frame]))
        clock = float(flips[-1])
        epochs.append((begin - 0.4, clock + 0.4, name))  # edges on the imaging clock, grey around
        clock += 2.0

    movie_epoch("natural_movie_one", 3)
    begin = clock
    clock += 6.0
    epochs.append((begin, clock + MONITOR_FRAME_S, "drifting_gratings"))  # reaches one frame into the next
    gratings = TimeIntervals(name="drifting_gratings", description="drifting gratings")
    gratings.add_column(name="orientation_in_degrees", description="orientation")
    for k in range(3):
        gratings.add_row(
            start_time=begin + 2 * k, stop_time=begin + 2 * k + 2.0, orientation_in_degrees=45.0 * k
        )
    clock += 0.0
    movie_epoch("natural_movie_three", 2)
    begin, scene_times, scene_index = clock, [], []
    for k in RNG.permutation(np.repeat(np.arange(12), 4)):
        scene_times.append(clock)
        scene_index.append(int(k))
        screen.add(clock, clock + 0.25, 101 + int(k))
        clock += 0.25
    epochs.append((begin - 0.3, clock + 0.3, "natural_scenes"))
    clock += 2.0
    movie_epoch("natural_movie_three", 2)

    for name in movies:
        times, frames = shown[name]
        nwbfile.add_stimulus(legacy_index(f"{name}_stimulus", templates[name], times, frames))
    nwbfile.add_stimulus(
        as_read(
            IndexSeries,
            name="natural_scenes_stimulus",
            data=np.array(scene_index, np.uint32),
            indexed_images=scene_template,
            unit="n.a.",
            timestamps=np.array(scene_times),
            description="The order and timing for presentation of the natural scene templates.",
        )
    )
    nwbfile.add_stimulus(gratings)
    nwbfile.add_epoch_column(name="stimulus_type", description="stimulus shown in the epoch")
    for start, stop, name in epochs:
        nwbfile.add_epoch(start_time=start, stop_time=stop, stimulus_type=name)

    times = imaging_clock(clock + 1.0)
    add_dff(nwbfile, times)
    behavior = nwbfile.create_processing_module("behavior", "Processed behavioral data.")
    behavior.add(
        BehavioralTimeSeries(
            time_series=[
                TimeSeries(name="running_speed", data=RNG.random(len(times)), unit="cm/s", timestamps=times)
            ]
        )
    )
    behavior.add(
        PupilTracking(
            time_series=[
                TimeSeries(name="pupil_size", data=RNG.random(len(times)) + 50, unit="px", timestamps=times)
            ]
        )
    )
    behavior.add(
        EyeTracking(
            spatial_series=[
                SpatialSeries(
                    name="pupil_location",
                    data=RNG.random((len(times), 2)),
                    reference_frame="(0,0) is the center of the monitor.",
                    unit="m",
                    timestamps=times,
                )
            ]
        )
    )
    expected = {"natural_movie_one": 3, "natural_movie_three": 4, "natural_scenes": 1}
    return _write(nwbfile, path), screen, expected


def _ellipse_types(folder: Path):
    """ndx-ellipse-eye-tracking 0.1.0 as AllenSDK vendors it (EllipseSeries, EllipseEyeTracking), built
    from its spec so the file caches it exactly as AllenSDK's files do."""
    namespace = "ndx-ellipse-eye-tracking"
    builder = NWBNamespaceBuilder(
        "Ellipse eye tracking", namespace, version="0.1.0", author="test", contact="t@t"
    )
    builder.include_type("SpatialSeries", namespace="core")
    builder.include_type("EyeTracking", namespace="core")
    builder.include_type("TimeSeries", namespace="core")
    ellipse = NWBGroupSpec(
        neurodata_type_def="EllipseSeries",
        neurodata_type_inc="SpatialSeries",
        doc="Ellipse fit: centre in data, with area, width, height and angle.",
        datasets=[
            NWBDatasetSpec(name=name, doc=name, dtype="float", shape=[None])
            for name in ("area", "area_raw", "width", "height", "angle")
        ],
    )
    tracking = NWBGroupSpec(
        neurodata_type_def="EllipseEyeTracking",
        neurodata_type_inc="EyeTracking",
        doc="Eye, pupil and corneal reflection ellipses.",
        default_name="EyeTracking",
        groups=[
            NWBGroupSpec(name=name, neurodata_type_inc="EllipseSeries", doc=name)
            for name in ("eye_tracking", "pupil_tracking", "corneal_reflection_tracking")
        ]
        + [NWBGroupSpec(name="likely_blink", neurodata_type_inc="TimeSeries", doc="blinks")],
    )
    for spec in (ellipse, tracking):
        builder.add_spec(f"{namespace}.extensions.yaml", spec)
    folder.mkdir(parents=True, exist_ok=True)
    builder.export(f"{namespace}.namespace.yaml", outdir=str(folder))
    load_namespaces(str(folder / f"{namespace}.namespace.yaml"))
    return get_class("EllipseSeries", namespace), get_class("EllipseEyeTracking", namespace)


def write_visual_behavior(path: Path) -> tuple[Path, Screen, dict]:
    """An Allen Visual Behavior ophys session as AllenSDK writes it (see the module docstring): 8 images
    flashed 250 ms with 500 ms grey, two flashes omitted, over a trials table without dead time."""
    EllipseSeries, EllipseEyeTracking = _ellipse_types(path.parent / "ndx")
    nwbfile = new_file("visual-behavior")
    screen = Screen()
    name = "Natural_Images_Lum_Matched_set_training_2017.07.14"
    template = ImageSeries(
        name=name,
        data=uniform_frames(np.arange(1, 9)),
        unit="NA",
        format="raw",
        timestamps=np.full(8, np.nan),
        control=np.arange(8, dtype=np.uint8),
        control_description=[f"im{k:03d}" for k in range(8)],
        description="warped images",
    )
    nwbfile.add_stimulus_template(template)
    presentations = TimeIntervals(
        name=f"{name}_presentations",
        description=f"Presentation times and stimuli details for '{name}' stimuli.",
    )
    for column in ("image_name", "image_index", "omitted", "duration"):
        presentations.add_column(name=column, description=column)
    onsets, indices = [], []
    start = 5.0
    omitted = {7, 19}
    for flash in range(40):
        index = int(RNG.integers(0, 8))
        stop = start + 0.25 + RNG.uniform(-2e-3, 2e-3)
        if flash in omitted:
            presentations.add_row(
                start_time=start,
                stop_time=start + 0.25,
                image_name="omitted",
                image_index=8,
                omitted=True,
                duration=0.25,
            )
        else:
            onsets.append(start)
            indices.append(index)
            screen.add(start, stop, 1 + index)
            presentations.add_row(
                start_time=start,
                stop_time=stop,
                image_name=f"im{index:03d}",
                image_index=index,
                omitted=False,
                duration=stop - start,
            )
        start += 0.75
    nwbfile.add_stimulus(legacy_index(name, template, onsets, indices))
    nwbfile.add_time_intervals(presentations)
    for trial_start in np.arange(4.0, start, 6.0):
        nwbfile.add_trial(start_time=float(trial_start), stop_time=float(min(trial_start + 6.0, start + 1.0)))

    times = imaging_clock(start + 2.0, rate=11.0)
    add_dff(nwbfile, times, name="dff", series="traces")
    running = nwbfile.create_processing_module("running", "Running speed processing module")
    speed = TimeSeries(name="speed", data=np.full(len(times), 10.0), unit="cm/s", timestamps=times)
    running.add(speed)
    running.add(
        TimeSeries(name="speed_unfiltered", data=np.full(len(times), 99.0), unit="cm/s", timestamps=times)
    )
    running.add(TimeSeries(name="dx", data=np.ones(len(times)), unit="cm", timestamps=times))
    nwbfile.add_acquisition(TimeSeries(name="v_sig", data=np.ones(len(times)), unit="V", timestamps=times))
    eye_times = np.arange(0.0, start + 2.0, 1 / 60)
    n = len(eye_times)

    def ellipse(name: str, centre: float, area: float, linked=None):
        return EllipseSeries(
            name=name,
            reference_frame="nose",
            data=np.full((n, 2), centre),
            area=np.full(n, area),
            area_raw=np.full(n, area),
            width=np.ones(n),
            height=np.ones(n),
            angle=np.zeros(n),
            timestamps=eye_times if linked is None else linked,
        )

    eye = ellipse("eye_tracking", 1.0, 1000.0)
    nwbfile.add_acquisition(
        EllipseEyeTracking(
            eye_tracking=eye,
            pupil_tracking=ellipse("pupil_tracking", 2.0, 300.0, eye),
            corneal_reflection_tracking=ellipse("corneal_reflection_tracking", 3.0, 5.0, eye),
            likely_blink=TimeSeries(name="likely_blink", data=np.zeros(n, bool), unit="N/A", timestamps=eye),
        )
    )
    expected = {"pupil_center": 2.0, "pupil_size": 300.0, "running": 10.0}
    return _write(nwbfile, path), screen, expected


def write_lab_videos(path: Path, names: tuple[str, ...], descriptions: tuple[str, ...] | None = None) -> Path:
    """A lab session written by neuroconv's own InternalVideoInterface: one lossless (FFV1) video file per
    name, each becoming an RGB ImageSeries `Video <stem>` in acquisition, described "Video recorded by
    camera." unless `descriptions` say otherwise; video k's frame j has value 100 * k + 1 + j; Suite2p-style
    traces in Fluorescence."""
    import cv2
    from neuroconv.datainterfaces import InternalVideoInterface

    nwbfile = new_file(path.stem)
    for index, stem in enumerate(names):
        video = path.parent / f"{stem}.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 30.0, (32, 18))
        for value in np.arange(1, 91) + 100 * index:
            writer.write(np.full((18, 32, 3), value, np.uint8))
        writer.release()
        interface = InternalVideoInterface(file_path=video, verbose=False)
        metadata = interface.get_metadata()
        if descriptions:
            metadata["Behavior"]["InternalVideos"][interface.metadata_key]["description"] = descriptions[
                index
            ]
        interface.add_to_nwbfile(nwbfile, metadata=metadata)
    add_dff(
        nwbfile, imaging_clock(3.0), container=Fluorescence, name="Fluorescence", series="RoiResponseSeries"
    )
    return _write(nwbfile, path)


def write_raw_companion(path: Path) -> Path:
    """Allen's raw `..._ophys.nwb` beside each processed file on 000728: only the motion-corrected
    TwoPhotonSeries (no processing module, no stimulus)."""
    from pynwb.ophys import TwoPhotonSeries

    nwbfile = new_file(path.stem)
    plane = imaging_plane(nwbfile)
    nwbfile.add_acquisition(
        TwoPhotonSeries(
            name="MotionCorrectedTwoPhotonSeries",
            data=RNG.integers(0, 255, (20, 16, 16), dtype=np.uint16),
            imaging_plane=plane,
            unit="n.a.",
            timestamps=np.arange(20) / 30.0,
        )
    )
    return _write(nwbfile, path)


def write_repeated_clip(
    path: Path,
    passes: int | tuple[int, ...] = 3,
    frames: int = 40,
    *,
    gap_s: float = 2.0,
    index_rate: float = 30.0,
    imaging_start: float = 0.0,
    epochs: tuple[tuple[float, float], ...] = (),
    trials: tuple[tuple[float, float], ...] = (),
) -> tuple[Path, np.ndarray]:
    """One clip (an Images template with order_of_images, frame k of value 1 + k) shown in blocks of
    `passes` back-to-back passes, `gap_s` of grey between blocks; its IndexSeries at `index_rate` (60:
    every 30 Hz frame indexed twice, as OpenScope 000036 does); imaging from `imaging_start`; optional
    `epochs` and `trials` (start, stop) tables; a running speed whose clock is one timestamp longer than
    its data. Returns the file and the onset of every pass."""
    from pynwb.base import ImageReferences

    nwbfile = new_file(path.stem)
    images = [GrayscaleImage(name=f"f{k}", data=uniform_frames([1 + k])[0]) for k in range(frames)]
    template = Images(
        name="clip",
        images=images,
        description="clip",
        order_of_images=ImageReferences(name="order_of_images", data=images),
    )
    nwbfile.add_stimulus_template(template)
    repeat = round(index_rate / 30.0)
    blocks = (passes,) if isinstance(passes, int) else passes
    times, onsets, clock = [], [], 1.0
    for block in blocks:
        for _ in range(block):
            onsets.append(clock)
            times.append(clock + np.arange(frames * repeat) / index_rate)
            clock += frames / 30.0
        clock += gap_s
    times = np.concatenate(times)
    nwbfile.add_stimulus(
        IndexSeries(
            name="clip_presentations",
            data=np.tile(np.repeat(np.arange(frames, dtype=np.uint32), repeat), sum(blocks)),
            indexed_images=template,
            unit="N/A",
            timestamps=times,
        )
    )
    if epochs:
        nwbfile.add_epoch_column(name="stimulus_type", description="stimulus shown in the epoch")
        for start, stop in epochs:
            nwbfile.add_epoch(start_time=start, stop_time=stop, stimulus_type="clip")
    for start, stop in trials:
        nwbfile.add_trial(start_time=start, stop_time=stop)
    clock = imaging_start + imaging_clock(times[-1] + 2.0 - imaging_start)
    add_dff(nwbfile, clock)
    running = as_read(  # one timestamp more than samples, as some AllenSDK-era series are stored
        TimeSeries, name="running_speed", data=np.ones(len(clock) - 1), unit="cm/s", timestamps=clock
    )
    nwbfile.create_processing_module("behavior", "behavior").add(BehavioralTimeSeries(time_series=[running]))
    return _write(nwbfile, path), np.array(onsets)
