"""Find what an NWB session holds, by neurodata type rather than by name.

This is the first half of the reader: it says which ROI responses, ROI tables, stimulus movies,
behaviour channels and trial tables a file has, and what is missing, without loading bulk data.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import zarr
from hdmf.backends.io import HDMFIO
from hdmf.build.errors import ConstructError
from pynwb import NWBHDF5IO, NWBFile
from pynwb.base import TimeSeries
from pynwb.behavior import SpatialSeries
from pynwb.epoch import TimeIntervals
from pynwb.image import ImageSeries, IndexSeries
from pynwb.ophys import DfOverF, Fluorescence, PlaneSegmentation, RoiResponseSeries

from nwb_v1former.errors import SessionError, detail, one_line
from nwb_v1former.nwb.hdf5_files import CHUNK_CACHE_BYTES, hdf5_version, open_hdf5
from nwb_v1former.nwb.remote import RemoteFile
from nwb_v1former.nwb.zarr_files import from_zarr_chunk, is_zarr_store, nwb_zarr_io, zarr_root

NO_RESPONSES = (
    "no ROI responses (RoiResponseSeries in DfOverF or Fluorescence); "
    "add your segmentation's traces (e.g. from suite2p) to processing/ophys"
)
NO_STIMULUS = (
    "no stimulus movie (an IndexSeries into a template, a presentations table with a 'frame' column, "
    "or an ImageSeries of shown frames); add the frames the animal saw to stimulus or acquisition"
)

_RUNNING = re.compile(r"running|speed|velocity|treadmill|wheel", re.IGNORECASE)
_PUPIL_SIZE = re.compile(
    r"pupil.*(size|area|radius|diameter|dilation)|(size|area|radius|diameter).*pupil", re.I
)
_EYE_POSITION = re.compile(r"eye_position|pupil_location|pupil_position|pupil_center|gaze", re.IGNORECASE)
_REFLECTION = re.compile(r"corneal|reflection|glint", re.IGNORECASE)
_UNFILTERED = re.compile(r"unfiltered|raw", re.IGNORECASE)
_VOLTAGE = re.compile(r"(milli|micro|m|u|µ)?v(olts?)?", re.IGNORECASE)
"""Units of an electrical signal (a wheel encoder's or a treadmill's raw output), never a speed."""


@dataclass(frozen=True)
class SeriesInfo:
    """One time series: where it is, its type, shape and clock."""

    path: str
    neurodata_type: str
    shape: tuple[int, ...]
    rate: float | None
    n_timestamps: int | None
    unit: str | None = None
    conversion: float | None = None
    target: str | None = None


@dataclass(frozen=True)
class RoiTableInfo:
    """One PlaneSegmentation: its path, ROI count and which masks it has."""

    path: str
    n_rois: int
    masks: tuple[str, ...]
    grid_spacing: tuple[float, ...] | None


@dataclass(frozen=True)
class SessionInventory:
    """What `inspect` reports for one NWB file."""

    path: str
    nwb_version: str
    identifier: str
    subject_id: str | None
    responses: list[SeriesInfo] = field(default_factory=list)
    roi_tables: list[RoiTableInfo] = field(default_factory=list)
    stimuli: list[SeriesInfo] = field(default_factory=list)
    behavior: dict[str, list[SeriesInfo]] = field(default_factory=dict)
    intervals: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


NWBSource = Path | RemoteFile
"""Where an NWB file is read from: a local path, or a RemoteFile read in place over HTTP."""


def as_source(path: str | Path | RemoteFile) -> NWBSource:
    """A RemoteFile as it is, anything else as a local Path."""
    return path if isinstance(path, RemoteFile) else Path(path)


def _checked_version(version: object, source: NWBSource, kind: str) -> str:
    """The NWB schema version a file's root records; SessionError for anything that is not NWB 2."""
    if isinstance(version, bytes):
        version = version.decode()
    if version is None:
        raise SessionError(f"{kind} without an NWB version; it is not an NWB file", where=source)
    if str(version).removeprefix("NWB-").startswith("1."):
        raise SessionError(
            f"written in NWB 1.x ({version}), which is not supported; convert it to NWB 2 first "
            "(for Allen Brain Observatory data, use the NWB 2 files on DANDI)",
            where=source,
        )
    return str(version)


@contextlib.contextmanager
def _opened(source: NWBSource, **hdf5_options) -> Iterator[tuple[h5py.File | zarr.Group, str, Callable]]:
    """The file's root group (h5py's, or zarr's for a local `.nwb.zarr` store), its NWB version, and a
    function making its read-only pynwb IO."""
    if isinstance(source, Path) and is_zarr_store(source):
        with zarr_root(source) as root:
            version = _checked_version(root.attrs.get("nwb_version"), source, "a Zarr store")
            yield root, version, lambda: nwb_zarr_io(source)
        return
    with open_hdf5(source, **hdf5_options) as handle:
        version = _checked_version(hdf5_version(handle, source), source, "an HDF5 file")
        yield handle, version, lambda: NWBHDF5IO(file=handle, mode="r", load_namespaces=True)


def file_identifier(path: str | Path | RemoteFile) -> str:
    """The NWB file's `identifier`, read alone (no pynwb read of the whole layout)."""
    source = as_source(path)
    with _opened(source) as (root, _, _):
        if "identifier" not in root:
            raise SessionError("an NWB file without an identifier; it is damaged", where=source)
        value = np.ravel(root["identifier"][()])[0]  # a scalar in HDF5, one element in hdmf-zarr
    return value.decode() if isinstance(value, bytes) else str(value)


@contextlib.contextmanager
def open_nwb(path: str | Path | RemoteFile) -> Iterator[NWBFile]:
    """Open an NWB 2 file read-only: a local or remote HDF5 file (with a large chunk cache) or a local
    Zarr store (`.nwb.zarr`); open inside the block."""
    source = as_source(path)
    # pynwb / hdmf warnings are kept (see `read_warnings`), not printed around our one line
    with (
        _opened(source, rdcc_nbytes=CHUNK_CACHE_BYTES) as (_, version, make_io),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        try:
            io = make_io()
            nwbfile = io.read()
        except Exception as error:  # pynwb raises many types for damaged files; one line for the user
            raise SessionError(f"cannot be read as NWB ({_read_failure(error)})", where=source) from None
        try:
            nwbfile.set_modified(False)
            _OPEN_FILES[id(nwbfile)] = _OpenFile(io, version, caught, source)
            yield nwbfile
        finally:
            _OPEN_FILES.pop(id(nwbfile), None)
            io.close()


@dataclass(frozen=True)
class _OpenFile:
    """A file open in `open_nwb`: its IO, NWB version, warnings raised reading it so far, and source."""

    io: HDMFIO
    version: str
    warnings: list[warnings.WarningMessage]
    source: NWBSource


_OPEN_FILES: dict[int, _OpenFile] = {}
"""Each file open in `open_nwb`, by id of its NWBFile."""


def _read_failure(error: Exception) -> str:
    """pynwb's reason a file cannot be read, without the dump of builders hdmf puts in ConstructError."""
    if isinstance(error, ConstructError) and len(error.args) == 2:
        builder, reason = error.args
        where = "/" + str(getattr(builder, "path", "")).removeprefix("root").lstrip("/")
        return one_line(f"{where}: {reason}", 180)
    return detail(error)


def read_warnings(nwbfile: NWBFile) -> list[str]:
    """The distinct warnings raised while reading a file opened with `open_nwb`, one line each."""
    caught = _OPEN_FILES[id(nwbfile)].warnings
    return list(dict.fromkeys(one_line(f"{w.category.__name__}: {w.message}") for w in caught))


def opened_version(nwbfile: NWBFile) -> str:
    """The NWB version of a file opened with `open_nwb` (read once, when it was opened)."""
    return _OPEN_FILES[id(nwbfile)].version


def opened_source(nwbfile: NWBFile) -> NWBSource:
    """Where a file opened with `open_nwb` was read from (its path, or the RemoteFile), e.g. to find
    the files it names by a path relative to itself."""
    return _OPEN_FILES[id(nwbfile)].source


def object_path(container) -> str:
    """The HDF5-style path of a container read from a file, whatever its backend (e.g.
    /processing/ophys/DfOverF/DfOverF)."""
    root = container
    while root.parent is not None:
        root = root.parent
    opened = _OPEN_FILES.get(id(root))
    if opened is not None:
        builder = opened.io.manager.get_builder(container)
        if builder is not None:
            return "/" + builder.path.removeprefix("root").lstrip("/")
    parts = []
    while container is not None and not isinstance(container, NWBFile):
        parts.append(container.name)
        container = container.parent
    return "/" + "/".join(reversed(parts))


def _series_info(series: TimeSeries, target: str | None = None) -> SeriesInfo:
    timestamps = series.timestamps
    return SeriesInfo(
        path=object_path(series),
        neurodata_type=series.neurodata_type,
        shape=tuple(int(n) for n in np.shape(series.data)),
        rate=None if series.rate is None else float(series.rate),
        n_timestamps=None if timestamps is None else len(timestamps),
        unit=getattr(series, "unit", None),
        conversion=getattr(series, "conversion", None),
        target=target,
    )


def _roi_table_info(table: PlaneSegmentation) -> RoiTableInfo:
    masks = tuple(name for name in ("image_mask", "pixel_mask", "voxel_mask") if name in table.colnames)
    spacing = getattr(table.imaging_plane, "grid_spacing", None)
    return RoiTableInfo(
        path=object_path(table),
        n_rois=len(table.id),
        masks=masks,
        grid_spacing=None if spacing is None else tuple(float(v) for v in spacing),
    )


def _is_movie(series: ImageSeries) -> bool:
    if _external_files(series):
        return True
    return series.data is not None and np.ndim(series.data) >= 3 and np.shape(series.data)[0] > 1


def _external_files(series: ImageSeries) -> list[str]:
    """The external video files an ImageSeries keeps its frames in, as written (empty: none)."""
    external = series.external_file
    return [] if external is None else [str(name) for name in external[:]]


def _is_imaging_acquisition(series: ImageSeries) -> bool:
    """Raw microscope data (TwoPhotonSeries, OnePhotonSeries) is not a stimulus."""
    return "Photon" in series.neurodata_type


def inventory(nwbfile: NWBFile, path: str, nwb_version: str) -> SessionInventory:
    """List the session's responses, ROI tables, stimuli, behaviour and intervals, and what is missing."""
    found = SessionInventory(
        path=path,
        nwb_version=nwb_version,
        identifier=nwbfile.identifier,
        subject_id=None if nwbfile.subject is None else nwbfile.subject.subject_id,
    )
    for obj in nwbfile.objects.values():
        if isinstance(obj, RoiResponseSeries):
            parent = type(obj.parent).__name__ if isinstance(obj.parent, (DfOverF, Fluorescence)) else None
            table = object_path(obj.rois.table) if obj.rois is not None else None
            found.responses.append(_series_info(obj, target=table))
            if parent is None:
                found.problems.append(f"{object_path(obj)} is not inside DfOverF or Fluorescence")
        elif isinstance(obj, PlaneSegmentation):
            found.roi_tables.append(_roi_table_info(obj))
        elif isinstance(obj, IndexSeries):
            target = obj.indexed_images if obj.indexed_images is not None else obj.indexed_timeseries
            found.stimuli.append(
                _series_info(obj, target=object_path(target) if target is not None else None)
            )
        elif isinstance(obj, ImageSeries) and _is_movie(obj) and not _is_imaging_acquisition(obj):
            external = _external_files(obj)
            info = _series_info(obj, target=", ".join(external) or None)
            if external:  # its data is empty: its length is its clock's
                frames = info.n_timestamps if info.n_timestamps is not None else obj.num_samples
                info = replace(info, shape=(int(frames),) if frames is not None else ())
            if not info.path.startswith("/stimulus/templates/"):  # templates are reached through an index
                found.stimuli.append(info)
        elif isinstance(obj, TimeIntervals):
            found.intervals[object_path(obj)] = len(obj)
            if "frame" in obj.colnames:
                found.stimuli.append(
                    SeriesInfo(object_path(obj), "TimeIntervals", (len(obj),), None, len(obj), target="frame")
                )
        elif isinstance(obj, TimeSeries) and not isinstance(obj, (RoiResponseSeries, ImageSeries)):
            uses = behavior_uses(obj)
            for use in uses:
                info = _series_info(obj)
                if use.field != "data":
                    info = replace(info, path=f"{info.path} ({use.field})")
                found.behavior.setdefault(use.channel, []).append(info)
            if not uses and _RUNNING.search(obj.name) and is_voltage(obj):
                found.problems.append(
                    f"{object_path(obj)} is a voltage (unit {obj.unit}), not a running speed: not used; "
                    "store the speed in cm/s or m/s to use it"
                )
    found.problems.extend(_missing(found))
    fold_warnings(found, nwbfile)
    return found


def fold_warnings(found: SessionInventory, nwbfile: NWBFile) -> None:
    """Add the warnings raised so far while reading the file to its problems, each once."""
    warned = (f"while reading: {warning}" for warning in read_warnings(nwbfile))
    found.problems.extend(w for w in warned if w not in found.problems)


@dataclass(frozen=True)
class BehaviorUse:
    """One way a series can serve a behaviour channel: the channel, the dataset of the series that
    holds it (`data`, or an ellipse's `area`), and a rank (0 first; the best-ranked series is used)."""

    channel: str
    field: str = "data"
    rank: int = 0


def behavior_uses(series: TimeSeries) -> list[BehaviorUse]:
    """Which behaviour channels (running, pupil_size, pupil_center) a series can serve, from its type
    and name. A voltage is never running speed; a corneal reflection is never the pupil; the pupil's
    ellipse (AllenSDK's EllipseEyeTracking `pupil_tracking`) gives its centre and its area; an eye's
    ellipse or a series named only by its eye container ranks after a pupil; unfiltered speed after
    filtered."""
    name = series.name
    if _REFLECTION.search(name):
        return []
    in_eye_container = "Eye" in type(series.parent).__name__
    if isinstance(series, SpatialSeries) or _EYE_POSITION.search(name):
        uses = []
        if _EYE_POSITION.search(name) or (in_eye_container and "pupil" in name.lower()):
            uses.append(BehaviorUse("pupil_center"))
        elif in_eye_container:
            uses.append(BehaviorUse("pupil_center", rank=1))
        if "pupil" in name.lower() and getattr(series, "area", None) is not None:
            uses.append(BehaviorUse("pupil_size", field="area"))
        return uses
    if _PUPIL_SIZE.search(name):
        return [BehaviorUse("pupil_size")]
    if _RUNNING.search(name) and not is_voltage(series):
        return [BehaviorUse("running", rank=1 if _UNFILTERED.search(name) else 0)]
    return []


def is_voltage(series: TimeSeries) -> bool:
    """Whether the series' unit is a voltage (V, mV, volts, ...)."""
    return _VOLTAGE.fullmatch(str(getattr(series, "unit", "") or "").strip()) is not None


def _missing(found: SessionInventory) -> list[str]:
    problems = []
    if not found.responses:
        problems.append(NO_RESPONSES)
    if not found.stimuli:
        problems.append(NO_STIMULUS)
    for channel in ("running", "pupil_size", "pupil_center"):
        if channel not in found.behavior:
            problems.append(
                f"no {channel.replace('_', ' ')} series found; it will be filled with a neutral value"
            )
    return problems


def inspect_session(path: str | Path | RemoteFile) -> SessionInventory:
    """Open one NWB file (local or remote) and report what it holds (see `inventory`)."""
    source = as_source(path)
    with open_nwb(source) as nwbfile:
        return inventory(nwbfile, str(source), opened_version(nwbfile))


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Reads of the object `what` inside the block: an HDF5 read failure (a damaged compressed chunk,
    a truncated file, a dropped connection) or a Zarr chunk that does not decode is a SessionError
    naming it (`open_session` adds the file)."""
    try:
        yield
    except Exception as error:
        if not isinstance(error, OSError) and not from_zarr_chunk(error):
            raise
        raise SessionError(
            f"{what} cannot be read ({detail(error, 80)}); the file is damaged: download or export it again"
        ) from None
