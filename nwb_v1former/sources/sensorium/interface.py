"""The neuroconv interface and converter for a Sensorium 2023 mouse folder, and convert_sensorium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import h5py
import jsonschema
import numpy as np
import yaml
from hdmf.common import VectorData, VectorIndex
from neuroconv import BaseDataInterface, NWBConverter
from neuroconv.tools.nwb_helpers import (
    configure_and_write_nwbfile,
    get_default_backend_configuration,
    get_module,
    make_nwbfile_from_metadata,
)
from neuroconv.utils import DeepDict, dict_deep_update, load_dict_from_file
from pynwb import NWBFile, TimeSeries
from pynwb.behavior import BehavioralTimeSeries, EyeTracking, PupilTracking, SpatialSeries
from pynwb.image import OpticalSeries
from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel, PlaneSegmentation, RoiResponseSeries

from nwb_v1former import __version__
from nwb_v1former.atomic import OutputKind, atomic_output, check_apart, check_writable
from nwb_v1former.errors import ConfigError
from nwb_v1former.nwb.rois import PIXEL_MASK_DTYPE
from nwb_v1former.nwb.write import holds_predictions
from nwb_v1former.sources.sensorium.folder import (
    FOLDER_NAME,
    FRAME_RATE,
    INTER_TRIAL_GAP_S,
    MAX_DEPTH_PLANES,
    PAPER,
    UNKNOWN_START,
    VIDEO_CHUNK_FRAMES,
    one_line,
    scan_folder,
)
from nwb_v1former.sources.sensorium.streams import BehaviorStream, ResponseStream, VideoStream


def depth_planes(coordinates: np.ndarray) -> list[np.ndarray]:
    """Neuron rows of each imaging plane: one per distinct depth (z), shallowest first."""
    depths = coordinates[:, 2]
    unique = np.unique(depths)
    if len(unique) > MAX_DEPTH_PLANES:
        return [np.arange(len(depths))]
    return [np.flatnonzero(depths == depth) for depth in unique]


def position_masks(xy: np.ndarray, origin: np.ndarray) -> list:
    """Placeholder pixel_mask columns whose weighted centroids are the ROIs' (x, y) on a 1 um grid.

    xy: (n, 2) micrometres; origin: (2,) the grid's origin. Integer positions give one pixel of weight 1,
    fractional ones share the weight bilinearly between four.
    """
    offset = xy.astype(np.float64) - origin
    base, fraction = np.floor(offset), offset - np.floor(offset)
    pixels, ends = [], []
    for (bx, by), (fx, fy) in zip(base, fraction, strict=True):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            pixels.extend((bx + dx, by + dy, wx * wy) for dy, wy in ((0, 1 - fy), (1, fy)) if wx * wy > 0)
        ends.append(len(pixels))
    description = (
        "NOT a segmentation (Sensorium releases no masks): each mask marks the cell's position "
        "(cell_motor_coordinates x, y) on the plane's 1 um grid, so readers can place the ROI."
    )
    data = VectorData(
        name="pixel_mask", description=description, data=np.array(pixels, dtype=PIXEL_MASK_DTYPE)
    )
    return [data, VectorIndex(name="pixel_mask_index", data=np.array(ends, np.uint64), target=data)]


class SensoriumInterface(BaseDataInterface):
    """neuroconv interface for one Sensorium 2023 mouse folder (data/ and meta/ of .npy files)."""

    display_name = "Sensorium 2023"
    keywords = ("Sensorium", "two-photon", "mouse", "V1", "natural videos")
    associated_suffixes = (".npy",)
    info = "One mouse folder of the Sensorium 2023 dataset (Turishcheva et al. 2023)."

    def __init__(self, folder: str, progress: bool = False, verbose: bool = False):
        super().__init__(verbose=verbose, folder=folder, progress=progress)
        self.folder = scan_folder(folder, progress=progress)

    def get_metadata(self) -> DeepDict:
        metadata = super().get_metadata()
        name = self.folder.root.name
        match = FOLDER_NAME.match(name)
        which = (
            f"mouse {match['animal']}, session {match['session']}, scan {match['scan']}" if match else name
        )
        session = {
            "session_description": (
                f"Sensorium 2023 {which}: {len(self.folder.unit_ids)} neurons of mouse primary visual "
                f"cortex, {len(self.folder.tier)} video trials, converted from {name}. Trials are laid end "
                f"to end in temporal order on a reconstructed 30 Hz clock, {INTER_TRIAL_GAP_S:g} s apart "
                "(the release has no acquisition times); session_start_time is a placeholder unless set "
                "with --metadata."
            ),
            "identifier": f"sensorium2023-{name}",
            "session_start_time": UNKNOWN_START,
            "experiment_description": (
                "Two-photon calcium imaging of mouse V1 during natural and parametric videos, released as "
                "the Sensorium 2023 benchmark; responses are deconvolved activity at the 30 Hz video frames."
            ),
            "related_publications": [PAPER],
            "keywords": ["Sensorium 2023", "mouse", "V1", "two-photon", "natural videos"],
            "source_script": f"nwb-v1former {__version__} convert-sensorium (neuroconv)",
            "source_script_file_name": "nwb_v1former/sources/sensorium.py",
        }
        if match:
            session["session_id"] = f"{match['session']}-{match['scan']}"
        metadata["NWBFile"].deep_update(session)
        metadata["Subject"].deep_update(
            subject_id=match["animal"] if match else name,
            species="Mus musculus",
            sex="U",
            age="P0D/",
            description=(
                "Mouse of the Sensorium 2023 dataset. Sex and age are not in the release: sex 'U' and the "
                "open age range 'P0D/' stand for unknown; set them with --metadata."
            ),
        )
        return metadata

    def add_to_nwbfile(self, nwbfile: NWBFile, metadata: dict | None = None, progress: bool = False) -> None:
        video = OpticalSeries(
            name="StimulusVideo",
            data=VideoStream(self.folder),
            timestamps=self.folder.frame_times(),
            unit="n.a.",
            format="raw",
            description=(
                "Video frames shown to the mouse (grayscale 0-255 at 30 Hz, as released by Sensorium), "
                "trial after trial in temporal order; NaN padding removed."
            ),
        )
        nwbfile.add_stimulus(video)
        self._add_ophys(nwbfile, video, progress)
        self._add_behavior(nwbfile, video)
        self._add_trials(nwbfile)

    def _add_ophys(self, nwbfile: NWBFile, video: OpticalSeries, progress: bool) -> None:
        folder = self.folder
        device = nwbfile.create_device(
            name="Microscope", description="Two-photon microscope (see the paper)."
        )
        channel = OpticalChannel(
            name="OpticalChannel",
            description="Indicator emission (not in the release).",
            emission_lambda=np.nan,
        )
        ophys = get_module(nwbfile, "ophys", "Sensorium 2023 responses and the ROIs they belong to.")
        segmentation, fluorescence = (
            ImageSegmentation(name="ImageSegmentation"),
            Fluorescence(name="Fluorescence"),
        )
        ophys.add([segmentation, fluorescence])
        planes = depth_planes(folder.coordinates)
        origin = folder.coordinates[:, :2].min(axis=0).astype(np.float64)
        for index, rows in enumerate(planes):
            suffix = "" if len(planes) == 1 else f"Plane{index + 1:02d}"
            depth = float(np.median(folder.coordinates[rows, 2]))
            plane = nwbfile.create_imaging_plane(
                name=f"ImagingPlane{suffix}",
                optical_channel=channel,
                description=(
                    f"Imaging field at {depth:g} um (cell_motor_coordinates z). Its 1 um grid and origin "
                    "only place the ROIs at their motor coordinates: the release has no imaging frames."
                ),
                device=device,
                excitation_lambda=np.nan,
                indicator="unknown (not in the Sensorium release; see the Sensorium 2023 paper)",
                imaging_rate=FRAME_RATE,
                location="VISp",
                grid_spacing=[1.0, 1.0],
                grid_spacing_unit="micrometers",
                origin_coords=[*origin, depth],
                origin_coords_unit="micrometers",
                reference_frame="Microscope motor coordinates of the release (cell_motor_coordinates).",
            )
            coordinates = VectorData(
                name="cell_motor_coordinates",
                description="(x, y, z) in micrometres, from meta/neurons/cell_motor_coordinates.npy.",
                data=folder.coordinates[rows],
            )
            table = PlaneSegmentation(
                name=f"PlaneSegmentation{suffix}",
                description="Sensorium units; ids are meta/neurons/unit_ids.npy.",
                imaging_plane=plane,
                id=folder.unit_ids[rows].tolist(),
                columns=[*position_masks(folder.coordinates[rows, :2], origin), coordinates],
            )
            segmentation.add_plane_segmentation(table)
            options = {
                "display_progress": progress,
                "progress_bar_options": {"desc": f"write {table.name}", "leave": False},
            }
            region = table.create_roi_table_region(region=list(range(len(rows))), description="All ROIs")
            fluorescence.add_roi_response_series(
                RoiResponseSeries(
                    name=f"Deconvolved{suffix}",
                    data=ResponseStream(folder, rows, **options),
                    rois=region,
                    unit="a.u.",
                    timestamps=video,
                    description=(
                        "Sensorium responses: deconvolved calcium activity at the 30 Hz video frames, "
                        "arbitrary units. Hidden test trials are all zeros here: see trials.labelled."
                    ),
                )
            )

    def _add_behavior(self, nwbfile: NWBFile, video: OpticalSeries) -> None:
        folder = self.folder
        pupil = TimeSeries(
            name="pupil_dilation",
            data=BehaviorStream(folder, "behavior", 0),
            timestamps=video,
            unit="a.u.",
            description="Pupil dilation as released (data/behavior row 0).",
        )
        running = TimeSeries(
            name="running_speed",
            data=BehaviorStream(folder, "behavior", 1),
            timestamps=video,
            unit="cm/s",
            description="Treadmill running speed as released (data/behavior row 1).",
        )
        centre = SpatialSeries(
            name="pupil_center",
            data=BehaviorStream(folder, "pupil_center", None),
            timestamps=video,
            unit="pixels",
            reference_frame="Eye-camera image, as released (data/pupil_center: horizontal, vertical).",
            description="Pupil centre (horizontal, vertical).",
        )
        behavior = get_module(
            nwbfile, "behavior", "Behaviour released with Sensorium 2023, on the video clock."
        )
        behavior.add(PupilTracking(name="PupilTracking", time_series=pupil))
        behavior.add(BehavioralTimeSeries(name="BehavioralTimeSeries", time_series=running))
        behavior.add(EyeTracking(name="EyeTracking", spatial_series=centre))

    def _add_trials(self, nwbfile: NWBFile) -> None:
        folder = self.folder
        columns = {
            "trial_file_index": ("Number of the trial's files, data/<kind>/<number>.npy.", folder.file_index),
            "tier": (
                "Sensorium tier (meta/trials/tiers.npy), e.g. train, oracle, final_test_main.",
                folder.tier,
            ),
            "valid_frames": (
                "Frames kept: up to the first NaN (padding removed, nothing added).",
                folder.valid_frames,
            ),
            "padded_frames": ("Frames in the released, NaN-padded files.", folder.padded_frames),
            "stimulus_id": (
                "Content hash of the trial's valid frames: repeats share it.",
                folder.stimulus_id,
            ),
            "labelled": (
                "False where the responses are hidden (test tier, all zeros in the release): unlabelled, not "
                "silent; never train or evaluate on them.",
                folder.labelled,
            ),
        }
        if folder.trial_idx is not None:
            columns["trial_idx"] = ("meta/trials/trial_idx.npy: position in the recording.", folder.trial_idx)
        for name, (description, _) in columns.items():
            nwbfile.add_trial_column(name=name, description=description)
        starts = folder.first_frame / FRAME_RATE
        for k, start in enumerate(starts):
            row = {name: values[k].item() for name, (_, values) in columns.items()}
            stop = start + folder.valid_frames[k] / FRAME_RATE
            nwbfile.add_trial(start_time=float(start), stop_time=float(stop), **row)


class SensoriumNWBConverter(NWBConverter):
    """NWBConverter for one Sensorium 2023 mouse folder: source_data={"Sensorium": {"folder": ...}}."""

    data_interface_classes: ClassVar[dict[str, type[BaseDataInterface]]] = {"Sensorium": SensoriumInterface}


def load_metadata(path: str | Path) -> dict:
    """A neuroconv metadata YAML / JSON with NWBFile and Subject blocks; ConfigError when unusable."""
    path = Path(path)
    if not path.is_file() or path.suffix not in (".yml", ".yaml", ".json"):
        raise ConfigError(
            "not a metadata file; give a .yml/.yaml/.json with NWBFile / Subject blocks", where=path
        )
    try:
        loaded = load_dict_from_file(path)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot be parsed ({one_line(error)})", where=path) from None
    if not isinstance(loaded, dict):
        raise ConfigError("expected a mapping with NWBFile / Subject blocks", where=path)
    unknown = sorted(set(loaded) - {"NWBFile", "Subject"})
    if unknown:
        raise ConfigError(f"unknown block(s) {unknown}; this converter takes NWBFile and Subject", where=path)
    return loaded


def written_by_convert_sensorium(path: Path) -> bool:
    """Whether `path` is an NWB file this tool's Sensorium conversion wrote (its source_script says so),
    and nothing since: a `predict` copy of one keeps the source_script but holds predictions."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        with h5py.File(path, "r") as handle:
            script = handle.get("general/source_script")
            text = script[()] if isinstance(script, h5py.Dataset) else b""  # a group is not a script
    except OSError:  # not HDF5 at all
        return False
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return text.startswith("nwb-v1former") and "convert-sensorium" in text and not holds_predictions(path)


SENSORIUM_NWB = OutputKind("an NWB file `convert-sensorium` wrote", written_by_convert_sensorium)


def convert_sensorium(
    folder: str | Path,
    out: str | Path,
    *,
    metadata_path: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Convert one Sensorium 2023 mouse folder into one NWB file at `out`, atomically; returns `out`.

    Every input file is read and checked before anything is written (SessionError naming the file);
    `metadata_path` (neuroconv layout, deep-updated) overrides what the folder name gives.
    """
    out = Path(out)
    check_writable(out, overwrite, SENSORIUM_NWB)
    check_apart(out, [folder])
    overrides = load_metadata(metadata_path) if metadata_path is not None else {}
    converter = SensoriumNWBConverter(
        source_data={"Sensorium": {"folder": str(folder), "progress": progress}}
    )
    metadata = dict_deep_update(converter.get_metadata(), overrides)
    where = metadata_path or "metadata"
    try:
        converter.validate_metadata(metadata)
        nwbfile = make_nwbfile_from_metadata(metadata)
    except jsonschema.ValidationError as error:
        field = "/".join(str(part) for part in error.absolute_path)
        raise ConfigError(f"{field}: {one_line(error.message)}", where=where) from None
    except ValueError as error:  # e.g. a date that is not ISO 8601
        raise ConfigError(
            f"{one_line(error)}; dates are ISO 8601, e.g. 2023-03-01T10:00:00+01:00", where=where
        ) from None
    converter.add_to_nwbfile(nwbfile, metadata, conversion_options={"Sensorium": {"progress": progress}})
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    for location, dataset in configuration.dataset_configurations.items():
        if location.endswith("StimulusVideo/data"):  # a few frames x the full frame
            dataset.chunk_shape = (min(VIDEO_CHUNK_FRAMES, dataset.full_shape[0]), *dataset.full_shape[1:])
    with atomic_output(out, overwrite=overwrite, kind=SENSORIUM_NWB) as temporary:
        configure_and_write_nwbfile(nwbfile, nwbfile_path=temporary, backend_configuration=configuration)
    return out
