"""A minimal, honest NWB session writer for reader tests: real pynwb files with one quirk at a time."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from pynwb.base import ImageReferences, Images, TimeSeries
from pynwb.behavior import BehavioralTimeSeries
from pynwb.image import GrayscaleImage, ImageSeries, IndexSeries
from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries


def _legacy_index_series(template: ImageSeries, times: np.ndarray, n_frames: int) -> IndexSeries:
    """An IndexSeries into an ImageSeries template: pynwb reads this deprecated form but refuses to
    create it, so it is built the way pynwb's own reader builds it."""
    return as_read(
        IndexSeries,
        name="presentations",
        data=np.arange(n_frames, dtype=np.uint32),
        indexed_timeseries=template,
        unit="N/A",
        timestamps=times,
    )


def as_read(cls: type, **arguments):
    """A pynwb object built the way pynwb's reader builds one, past the checks with which pynwb refuses to
    create layouts real files have (a deprecated link, data stored ROIs x time, one timestamp too many)."""
    made = cls.__new__(cls, in_construct_mode=True)
    made.__init__(**arguments)
    made._in_construct_mode = False
    return made


def _response_series(
    data: np.ndarray, region, times: np.ndarray, rate: float | None, transposed: bool
) -> RoiResponseSeries:
    """The dF/F series, on timestamps or (`rate`) a rate. Data stored ROIs x time is built the way pynwb
    reads it (with a warning), since pynwb refuses to create it."""
    arguments = {"name": "dff", "data": data, "rois": region, "unit": "n.a."}
    arguments.update({"rate": rate} if rate is not None else {"timestamps": times})
    return as_read(RoiResponseSeries, **arguments) if transposed else RoiResponseSeries(**arguments)


def write_session(
    path: Path,
    *,
    n_rois: int = 6,
    response_times: np.ndarray | None = None,
    responses: np.ndarray | None = None,
    rois_in_region: int | None = None,
    frame_times: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    movie_as: str = "acquisition",
    with_responses: bool = True,
    with_stimulus: bool = True,
    running: bool = True,
    transposed: bool = False,
    response_rate: float | None = None,
    running_unit: str = "cm/s",
    neuropil: bool = False,
) -> Path:
    """One session: DfOverF responses of `n_rois` pixel-mask ROIs, a movie, running speed.

    The movie is an ImageSeries in acquisition (movie_as="acquisition"), an Images template indexed
    by an IndexSeries (movie_as="index"), or an ImageSeries template indexed by an IndexSeries
    (movie_as="legacy_index", as Allen's files on DANDI are). Times default to 20 s at 30 Hz for both.
    `transposed` stores the responses ROIs x time (as suite2p's writer has); `response_rate` puts them on
    a rate rather than timestamps; `running_unit` is the running series' unit; `neuropil` adds a
    Fluorescence/Neuropil series (time x ROIs).
    """
    rng = np.random.default_rng(0)
    response_times = np.arange(600) / 30.0 if response_times is None else response_times
    responses = (
        rng.random((len(response_times), n_rois)).astype(np.float32) if responses is None else responses
    )
    frame_times = np.arange(600) / 30.0 if frame_times is None else frame_times
    frames = rng.integers(0, 255, (len(frame_times), 36, 64), dtype=np.uint8) if frames is None else frames
    nwbfile = NWBFile(
        session_description="reader test session",
        identifier=path.stem,
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    if with_responses:
        device = nwbfile.create_device(name="scope")
        plane = nwbfile.create_imaging_plane(
            name="plane",
            optical_channel=OpticalChannel(name="green", description="green", emission_lambda=510.0),
            description="plane",
            device=device,
            excitation_lambda=920.0,
            imaging_rate=30.0,
            indicator="GCaMP6s",
            location="VISp",
            grid_spacing=[2.0, 2.0],
            grid_spacing_unit="micrometers",
        )
        segmentation = ImageSegmentation().create_plane_segmentation(
            name="PlaneSegmentation", description="rois", imaging_plane=plane
        )
        for index in range(n_rois):
            segmentation.add_roi(pixel_mask=[(index * 3, 5, 1.0), (index * 3 + 2, 7, 1.0)], id=100 + index)
        module = nwbfile.create_processing_module("ophys", "ophys")
        module.add(segmentation.parent)
        region = segmentation.create_roi_table_region(
            region=list(range(rois_in_region if rois_in_region is not None else n_rois)), description="rois"
        )
        data = np.ascontiguousarray(responses.T) if transposed else responses
        with warnings.catch_warnings():  # pynwb warns about a transposed series: that is the point
            warnings.simplefilter("ignore" if transposed else "default")
            series = _response_series(data, region, response_times, response_rate, transposed)
            module.add(DfOverF(roi_response_series=series))
        if neuropil:  # as suite2p writes it, in a Fluorescence container of its own
            background = RoiResponseSeries(
                name="Neuropil", data=responses / 2, rois=region, unit="n.a.", timestamps=response_times
            )
            module.add(Fluorescence(name="Neuropil", roi_response_series=background))
    if with_stimulus:
        if movie_as == "acquisition":
            nwbfile.add_acquisition(
                ImageSeries(name="movie", data=frames, unit="n.a.", format="raw", timestamps=frame_times)
            )
        elif movie_as == "legacy_index":
            template = ImageSeries(name="template", data=frames, unit="n.a.", format="raw", rate=float("nan"))
            nwbfile.add_stimulus_template(template)
            nwbfile.add_stimulus(_legacy_index_series(template, frame_times, len(frames)))
        else:
            images = [GrayscaleImage(name=f"f{i}", data=frame) for i, frame in enumerate(frames)]
            template = Images(
                name="template",
                images=images,
                description="frames",
                order_of_images=ImageReferences(name="order_of_images", data=images),
            )
            nwbfile.add_stimulus_template(template)
            nwbfile.add_stimulus(
                IndexSeries(
                    name="presentations",
                    data=np.arange(len(frames), dtype=np.uint32),
                    indexed_images=template,
                    unit="N/A",
                    timestamps=frame_times,
                )
            )
    if running:
        behavior = nwbfile.create_processing_module("behavior", "behavior")
        speed = TimeSeries(name="running_speed", data=np.linspace(0, 10, 300), unit=running_unit, rate=15.0)
        behavior.add(BehavioralTimeSeries(time_series=[speed]))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    return path
