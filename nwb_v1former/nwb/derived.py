"""What `predict --out` makes of its source before the predictions go in: a file with an identity of its own.

A file beside its source in a dandiset must not share its identifier or object ids (NWB: every file and
object is unique; `dandi organize` refuses two files with one object_id). Two kinds (`--copy`):

- `predictions-only` (the default): a new small NWB file with the source's subject and session (so
  `dandi organize` files it under the same subject and session; `_obj-` then tells the two apart), the
  devices, imaging planes and ROI tables the predictions point at (every row and id, masks as pixel
  masks), and nothing of the raw data. HDF5 object references cannot cross files and an external link
  would break when `dandi organize` renames the source, so the predicted series name their recorded
  series by path (`recorded_path`) in the file the module's PredictionSource names.
- `full`: the whole source under new object ids, a new identifier and creation date. An HDF5 copy keeps
  every dataset's bytes (its references are addresses; object ids are only attributes); a Zarr copy is
  exported by hdmf-zarr, whose references carry object ids, with `generate_new_id`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hdmf.common import VectorData, VectorIndex
from hdmf_zarr.nwb import NWBZarrIO
from pynwb import NWBFile
from pynwb.file import Subject
from pynwb.ophys import ImageSegmentation, ImagingPlane, OpticalChannel, PlaneSegmentation

from nwb_v1former import __version__
from nwb_v1former.nwb.zarr_files import nwb_zarr_io, zarr_root

COPIES = ("predictions-only", "full")
PREDICTIONS_ONLY, FULL = COPIES
DEFAULT_COPY = PREDICTIONS_ONLY
"""A curator's choice: the predictions without a second copy of the raw data (see the README)."""
MASK_ROWS = 64
"""Image masks are turned into pixel masks this many ROIs at a time (a 512 x 512 mask is 1 MiB)."""
_SESSION_FIELDS = (
    "session_id",
    "experimenter",
    "experiment_description",
    "institution",
    "lab",
    "keywords",
    "related_publications",
    "protocol",
)
_SUBJECT_FIELDS = ("age", "age__reference", "description", "genotype", "sex", "species", "subject_id")
_SUBJECT_FIELDS += ("weight", "date_of_birth", "strain")
_PLANE_FIELDS = ("description", "excitation_lambda", "indicator", "location", "imaging_rate", "conversion")
_PLANE_FIELDS += ("unit", "reference_frame", "origin_coords", "origin_coords_unit", "grid_spacing")
_PLANE_FIELDS += ("grid_spacing_unit",)


def new_identifier() -> str:
    """A fresh NWB identifier (a UUID, as pynwb's own examples use)."""
    return str(uuid.uuid4())


def _now() -> str:
    return datetime.now().astimezone().isoformat()


def renew_hdf5_identity(path: Path, identifier: str) -> None:
    """Give the HDF5 file at `path` (a byte copy of an NWB file) new object ids, `identifier` and a
    creation date of today; every other dataset keeps its bytes."""
    with h5py.File(path, "a") as handle:
        handle.attrs["object_id"] = str(uuid.uuid4())

        def renew(_: str, item: h5py.HLObject) -> None:
            if "object_id" in item.attrs:
                item.attrs["object_id"] = str(uuid.uuid4())

        handle.visititems(renew)
        handle["identifier"][()] = identifier
        del handle["file_create_date"]
        handle.create_dataset(
            "file_create_date", data=[_now()], dtype=h5py.string_dtype(), maxshape=(None,), chunks=True
        )


def export_zarr_with_new_ids(source: Path, target: Path, identifier: str) -> None:
    """Write the Zarr NWB store `source` to `target` with hdmf-zarr's export, every object id new, then
    set its identifier and creation date."""
    with nwb_zarr_io(source) as read_io:
        nwbfile = read_io.read()
        nwbfile.generate_new_id()
        with NWBZarrIO(str(target), mode="w") as write_io:
            write_io.export(src_io=read_io, nwbfile=nwbfile)
    with zarr_root(target, "a") as root:  # hdmf-zarr's encodings: identifier UTF-8, dates bytes
        root["identifier"][0] = identifier
        dates = root["file_create_date"]
        dates.resize((1,))
        dates[0] = _now().encode()


def _fields(item: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The set fields of a read pynwb object, datasets read into memory."""
    values = {name: getattr(item, name, None) for name in names}
    return {
        name: value[()] if isinstance(value, h5py.Dataset) else value
        for name, value in values.items()
        if value is not None
    }


def derived_nwbfile(
    source: NWBFile, tables: list[PlaneSegmentation], *, identifier: str, source_name: str
) -> tuple[NWBFile, dict[str, PlaneSegmentation]]:
    """A new NWBFile of the source's session and subject holding copies of `tables` (with their imaging
    planes and devices) in /processing/ophys/ImageSegmentation; returns it and each table's copy by the
    source table's object id."""
    nwbfile = NWBFile(
        session_description=(
            f"Responses predicted by nwb-v1former for the session recorded in {source_name} (identifier "
            f"{source.identifier}): {source.session_description}"
        ),
        identifier=identifier,
        session_start_time=source.session_start_time,
        timestamps_reference_time=source.timestamps_reference_time,
        file_create_date=[datetime.now().astimezone()],
        was_generated_by=[["nwb-v1former", __version__]],
        subject=None if source.subject is None else Subject(**_fields(source.subject, _SUBJECT_FIELDS)),
        **_fields(source, _SESSION_FIELDS),
    )
    segmentation = ImageSegmentation(name="ImageSegmentation")
    nwbfile.create_processing_module(
        "ophys", "The ROI tables of the recording the predictions are for (masks as pixel masks)."
    ).add(segmentation)
    copies = {}
    for table in tables:
        copy = _copy_table(nwbfile, table)
        segmentation.add_plane_segmentation(copy)
        copies[table.object_id] = copy
    return nwbfile, copies


def _imaging_plane(nwbfile: NWBFile, plane: ImagingPlane) -> ImagingPlane:
    """The copy of `plane` in `nwbfile` (made once), with its optical channels and device."""
    if plane.name in nwbfile.imaging_planes:
        return nwbfile.imaging_planes[plane.name]
    device = plane.device
    if device.name not in nwbfile.devices:
        nwbfile.create_device(name=device.name, **_fields(device, ("description", "manufacturer")))
    channels = [
        OpticalChannel(name=c.name, description=c.description, emission_lambda=c.emission_lambda)
        for c in plane.optical_channel
    ]
    return nwbfile.create_imaging_plane(
        name=plane.name,
        optical_channel=channels,
        device=nwbfile.devices[device.name],
        **_fields(plane, _PLANE_FIELDS),
    )


def _copy_table(nwbfile: NWBFile, table: PlaneSegmentation) -> PlaneSegmentation:
    """Every row of `table` (its ids in order) with its masks as pixel masks (x, y, weight; none for a
    table without masks)."""
    ids = np.asarray(table.id.data[:], np.int64)
    masks = list(_pixel_masks(table)) or [np.zeros(0, _PIXEL)] * len(ids)
    pixels = VectorData(
        name="pixel_mask",
        description="The ROI's pixels (x, y, weight), from the source table's masks.",
        data=np.concatenate(masks),
    )
    index = VectorIndex(name="pixel_mask_index", data=np.cumsum([len(m) for m in masks]), target=pixels)
    return PlaneSegmentation(
        name=table.name,
        description=table.description or "ROIs",
        imaging_plane=_imaging_plane(nwbfile, table.imaging_plane),
        id=ids.tolist(),  # pynwb tests a given id for truth
        columns=[pixels, index],
    )


_PIXEL = np.dtype([("x", np.uint32), ("y", np.uint32), ("weight", np.float32)])


def _pixel_masks(table: PlaneSegmentation) -> Iterator[np.ndarray]:
    """Each ROI's pixel mask, (k,) of _PIXEL, from the table's pixel or image masks (none if neither)."""
    if "pixel_mask" in table.colnames:
        column = table["pixel_mask"]
        pixels = np.asarray(column.target.data[:])
        if pixels.dtype.names:  # a compound dataset as read: (k,) records
            pixels = np.stack([pixels[name] for name in pixels.dtype.names], axis=1)
        pixels = pixels.reshape(-1, 3)
        bounds = np.r_[0, np.asarray(column.data[:], np.int64)]
        for start, stop in itertools.pairwise(bounds):
            yield _pixel_array(*pixels[start:stop].T)
    elif "image_mask" in table.colnames:
        data = table["image_mask"].data
        for first in range(0, len(data), MASK_ROWS):
            for image in np.asarray(data[first : first + MASK_ROWS]):
                x, y = np.nonzero(image)
                yield _pixel_array(x, y, image[x, y])


def _pixel_array(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(x), _PIXEL)
    mask["x"], mask["y"], mask["weight"] = x, y, weight
    return mask
