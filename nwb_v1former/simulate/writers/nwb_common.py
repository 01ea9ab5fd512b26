"""NWB building blocks shared by the simulator's layouts (file, subject, imaging planes, ROIs, behaviour)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from hdmf.common import VectorData, VectorIndex
from hdmf.data_utils import DataChunkIterator
from pynwb import NWBHDF5IO, H5DataIO, NWBFile, ProcessingModule, TimeSeries
from pynwb.behavior import EyeTracking, PupilTracking, SpatialSeries
from pynwb.file import Subject
from pynwb.ophys import ImageSegmentation, ImagingPlane, OpticalChannel, PlaneSegmentation, RoiResponseSeries

from nwb_v1former import __version__
from nwb_v1former.atomic import atomic_output
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.rois import PIXEL_MASK_DTYPE
from nwb_v1former.simulate.population import plane_depths_um
from nwb_v1former.simulate.recording import Recording

MASK_RADIUS_UM = 6.0
FIELD_MARGIN_UM = 10.0
"""The imaging field extends this far beyond the simulated cortex, so every soma mask fits inside it."""
SESSION_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def compressed(data, *, chunks: tuple[int, ...] | bool | None = None) -> H5DataIO:
    """gzip-compressed, chunked HDF5 dataset (NWB best practice for bulk data)."""
    return H5DataIO(data=data, compression="gzip", compression_opts=4, chunks=chunks if chunks else True)


def time_chunks(n_times: int, n_columns: int, target_bytes: int = 1 << 20) -> tuple[int, int]:
    """Chunk shape for a (time, columns) float32 dataset: all columns, ~1 MB of time."""
    rows = int(np.clip(target_bytes // (4 * max(n_columns, 1)), 1, n_times))
    return rows, max(n_columns, 1)


def new_nwbfile(recording: Recording, layout: str) -> NWBFile:
    """An NWBFile with deterministic identifiers and complete subject / session metadata."""
    config = recording.config
    subject_id = f"sim-{config.seed}-{config.animal:03d}"
    shown = (
        "natural-like movies" if recording.presentation is None else f"stimulus set {recording.presentation}"
    )
    return NWBFile(
        session_description=(
            f"Simulated two-photon calcium imaging of mouse V1 during {shown} "
            f"({layout} layout, {config.neurons} neurons, {config.minutes:g} min)."
        ),
        identifier=f"nwb-v1former-sim-{layout}-seed{config.seed}-animal{config.animal}"
        + ("" if recording.presentation is None else f"-{recording.presentation}"),
        session_start_time=SESSION_EPOCH + timedelta(days=config.animal),
        session_id=recording.session_id,
        experimenter=["Simulator, V1"],
        lab="nwb-v1former",
        institution="nwb-v1former simulated laboratory",
        experiment_description=(
            "Ground-truth V1 population: retinotopic Gabor simple and complex cells, behaviour-modulated "
            "gain, eye-position-shifted receptive fields, Poisson events imaged through a calcium kernel."
        ),
        keywords=["simulation", "mouse", "V1", "two-photon", "natural movies"],
        source_script=f"nwb-v1former {__version__} simulate",
        source_script_file_name="nwb_v1former/simulate",
        subject=Subject(
            subject_id=subject_id,
            species="Mus musculus",
            sex="U",
            age="P90D",
            description="Simulated mouse.",
            strain="C57BL/6J",
        ),
    )


def imaging_planes(nwbfile: NWBFile, recording: Recording, grid_spacing_um: float) -> list[ImagingPlane]:
    """One ImagingPlane per simulated plane, with grid spacing and origin in micrometres."""
    config = recording.config
    device = nwbfile.create_device(
        name="Microscope", description="Simulated two-photon microscope (nwb-v1former)"
    )
    channel = OpticalChannel(name="GreenChannel", description="GCaMP emission", emission_lambda=510.0)
    planes = []
    for index, depth in enumerate(plane_depths_um(config.planes)):
        planes.append(
            nwbfile.create_imaging_plane(
                name=f"ImagingPlane{index + 1}" if config.planes > 1 else "ImagingPlane",
                optical_channel=channel,
                description=f"Plane {index + 1} at {depth:.0f} um below the pia",
                device=device,
                excitation_lambda=920.0,
                imaging_rate=float(config.imaging_rate),
                indicator="GCaMP6s",
                location="VISp",
                grid_spacing=[grid_spacing_um, grid_spacing_um],
                grid_spacing_unit="micrometers",
                origin_coords=[-FIELD_MARGIN_UM, -FIELD_MARGIN_UM, float(depth)],
                origin_coords_unit="micrometers",
            )
        )
    return planes


def field_of_view_px(recording: Recording, grid_spacing_um: float) -> tuple[int, int]:
    """(rows, columns) of the imaging field that covers the simulated cortex."""
    width_um, height_um = np.asarray(recording.config.cortex_size_um) + 2 * FIELD_MARGIN_UM
    return int(np.ceil(height_um / grid_spacing_um)) + 1, int(np.ceil(width_um / grid_spacing_um)) + 1


def soma_mask(center_rc: np.ndarray, grid_spacing_um: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gaussian-weighted disc around a soma centre: (rows, columns, weights) of its pixels."""
    radius_px = MASK_RADIUS_UM / grid_spacing_um
    span = np.arange(-int(np.ceil(radius_px)), int(np.ceil(radius_px)) + 1)
    rows = np.rint(center_rc[0]).astype(int) + span[:, None]
    cols = np.rint(center_rc[1]).astype(int) + span[None, :]
    distance2 = (rows - center_rc[0]) ** 2 + (cols - center_rc[1]) ** 2
    inside = distance2 <= radius_px**2
    weights = np.exp(-distance2 / (2 * (radius_px / 2) ** 2))
    rows, cols = np.broadcast_arrays(rows, cols)
    return rows[inside], cols[inside], weights[inside]


def centers_px(recording: Recording, neurons: np.ndarray, grid_spacing_um: float) -> np.ndarray:
    """Soma centres (row, column) in pixels of the imaging field (origin at -FIELD_MARGIN_UM); (n, 2)."""
    xy = recording.population.position_um[neurons, :2] + FIELD_MARGIN_UM
    return np.stack([xy[:, 1], xy[:, 0]], axis=1) / grid_spacing_um


def plane_segmentation(
    imaging_plane: ImagingPlane,
    recording: Recording,
    neurons: np.ndarray,
    grid_spacing_um: float,
    *,
    mask: str,
    name: str = "PlaneSegmentation",
) -> PlaneSegmentation:
    """ROIs of one plane with ids from the simulation.

    mask="pixel": pixel_mask rows (x=column, y=row, weight);
    mask="image": dense image_mask (n, rows, columns) float32, streamed ROI by ROI;
    mask="image_xy": dense image_mask (n, x=columns, y=rows), the schema's literal axis order.
    """
    centers = centers_px(recording, neurons, grid_spacing_um)
    ids = recording.population.roi_ids[neurons].tolist()
    description = "Simulated somata: Gaussian-weighted discs around the true cell positions."
    if mask == "pixel":
        columns = _pixel_mask_columns(centers, grid_spacing_um)
    else:
        columns = [
            _image_mask_column(centers, grid_spacing_um, field_of_view_px(recording, grid_spacing_um), mask)
        ]
    return PlaneSegmentation(
        name=name, description=description, imaging_plane=imaging_plane, id=ids, columns=columns
    )


def _pixel_mask_columns(centers: np.ndarray, grid_spacing_um: float) -> list:
    """pixel_mask (x=column, y=row, weight) as a ragged column with its index."""
    masks = [soma_mask(center, grid_spacing_um) for center in centers]
    pixels = np.empty(sum(len(rows) for rows, _, _ in masks), dtype=PIXEL_MASK_DTYPE)
    ends = np.cumsum([len(rows) for rows, _, _ in masks])
    for (rows, cols, weights), end in zip(masks, ends, strict=True):
        rows_slice = slice(end - len(rows), end)
        pixels["x"][rows_slice], pixels["y"][rows_slice], pixels["weight"][rows_slice] = cols, rows, weights
    data = VectorData(name="pixel_mask", description="Pixel masks (x, y, weight)", data=pixels)
    return [data, VectorIndex(name="pixel_mask_index", data=ends.astype(np.uint64), target=data)]


def _image_mask_column(centers: np.ndarray, grid_spacing_um: float, shape: tuple[int, int], mask: str):
    """image_mask, dense (n, rows, columns) or (n, x, y), streamed one ROI at a time."""

    def dense_masks() -> Iterator[np.ndarray]:
        for center in centers:
            image = np.zeros(shape, dtype=np.float32)
            rows, cols, weights = soma_mask(center, grid_spacing_um)
            image[rows, cols] = weights
            yield image.T if mask == "image_xy" else image

    image_shape = shape[::-1] if mask == "image_xy" else shape
    iterator = DataChunkIterator(
        data=dense_masks(), maxshape=(len(centers), *image_shape), dtype=np.dtype("float32"), buffer_size=64
    )
    axes = "(x, y)" if mask == "image_xy" else "(rows, columns)"
    return VectorData(name="image_mask", description=f"Image masks {axes}", data=compressed(iterator))


def add_roi_responses(
    nwbfile: NWBFile,
    recording: Recording,
    container,
    segmentations: list[PlaneSegmentation],
    *,
    series_name: str,
    unit: str = "n.a.",
) -> None:
    """One RoiResponseSeries per plane (measured activity at the imaging times) inside `container`."""
    measurement = recording.measurement
    first = None
    for index, segmentation in enumerate(segmentations):
        neurons = np.flatnonzero(recording.population.plane == index)
        data = measurement.measured[:, neurons]
        region = segmentation.create_roi_table_region(
            region=list(range(len(neurons))), description=f"All ROIs of {segmentation.name}"
        )
        name = series_name.format(plane=index + 1)
        series = RoiResponseSeries(
            name=name,
            data=compressed(data, chunks=time_chunks(*data.shape)),
            rois=region,
            unit=unit,
            timestamps=first if first is not None else compressed(measurement.times),
            description=f"Simulated calcium-like activity of {segmentation.name}",
        )
        if first is None:
            first = series
        container.add_roi_response_series(series)


def add_ophys(
    nwbfile: NWBFile,
    recording: Recording,
    container_type,
    *,
    container_name: str,
    series_name: str,
    segmentation_name: str,
    segmentation_container_name: str = "ImageSegmentation",
    mask: str,
    grid_spacing_um: float,
    module_name: str = "ophys",
) -> None:
    """Imaging planes, segmentations and responses under processing/<module_name>."""
    planes = imaging_planes(nwbfile, recording, grid_spacing_um)
    module = nwbfile.create_processing_module(module_name, "Processed two-photon imaging data")
    segmentation_container = ImageSegmentation(name=segmentation_container_name)
    module.add(segmentation_container)
    segmentations = []
    for index, plane in enumerate(planes):
        neurons = np.flatnonzero(recording.population.plane == index)
        name = segmentation_name.format(plane=index + 1)
        segmentation = plane_segmentation(plane, recording, neurons, grid_spacing_um, mask=mask, name=name)
        segmentation_container.add_plane_segmentation(segmentation)
        segmentations.append(segmentation)
    responses = container_type(name=container_name)
    module.add(responses)
    add_roi_responses(nwbfile, recording, responses, segmentations, series_name=series_name)


def tick_clock(recording: Recording) -> dict[str, float]:
    """Timing keywords of a TimeSeries sampled on the 30 Hz ticks (regular: rate, not timestamps)."""
    return {"starting_time": float(recording.tick_times[0]), "rate": TICK_RATE_HZ}


def behavior_module(nwbfile: NWBFile, name: str = "behavior") -> ProcessingModule:
    return nwbfile.create_processing_module(name, "Behavioural measurements aligned to the session clock")


def pupil_tracking(
    recording: Recording, name: str, data: np.ndarray, unit: str, description: str
) -> PupilTracking:
    """The pupil's size as one series of a PupilTracking container, on the tick clock."""
    series = TimeSeries(
        name=name, data=compressed(data), unit=unit, description=description, **tick_clock(recording)
    )
    return PupilTracking(name="PupilTracking", time_series=[series])


def eye_tracking(recording: Recording, name: str) -> EyeTracking:
    """Eye position (azimuth, elevation in degrees) as the SpatialSeries `name` of an EyeTracking."""
    series = SpatialSeries(
        name=name,
        data=compressed(recording.behavior.pupil_center),
        unit="degrees",
        reference_frame="(0, 0) is the eye looking at the screen centre; azimuth, elevation",
        description="Eye position (azimuth, elevation)",
        **tick_clock(recording),
    )
    return EyeTracking(name="EyeTracking", spatial_series=[series])


def write_nwbfile(nwbfile: NWBFile, path: Path, *, overwrite: bool) -> Path:
    """Write atomically (temporary file, fsync, rename)."""
    with atomic_output(path, overwrite=overwrite) as temporary, NWBHDF5IO(temporary, "w") as io:
        io.write(nwbfile)
    return path
