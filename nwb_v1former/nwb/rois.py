"""ROI responses and the ROIs they point to: choice of series, ROI ids, centroids in micrometres."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from pynwb import NWBFile
from pynwb.ophys import DfOverF, Fluorescence, PlaneSegmentation, RoiResponseSeries

from nwb_v1former.errors import MissingDataError, SessionError
from nwb_v1former.nwb.discover import NO_RESPONSES, object_path, reading
from nwb_v1former.nwb.timing import series_times

_NEUROPIL = re.compile(r"neuropil|background|fneu", re.IGNORECASE)
_DECONVOLVED = re.compile(r"deconv|spks|spike|events", re.IGNORECASE)
_METRES = {
    "meters": 1e6,
    "meter": 1e6,
    "m": 1e6,
    "millimeters": 1e3,
    "mm": 1e3,
    "micrometers": 1.0,
    "um": 1.0,
}
_MICROMETRES = r"(?:um|µm|μm|microns?|micrometers?|micrometres?)"
_DEPTH = re.compile(
    rf"depth\W{{0,3}}(?P<depth>\d+(?:\.\d+)?)\s*{_MICROMETRES}|(?P<below>\d+(?:\.\d+)?)\s*{_MICROMETRES}\s+below",
    re.IGNORECASE,
)
"""A depth an imaging plane's description states: AllenSDK's '(512, 512) field of view in VISp at depth
150 um', 'Depth: 150 um', '200 um below the pia'."""
_MASK_BLOCK = 256
PIXEL_MASK_DTYPE = np.dtype([("x", "<u4"), ("y", "<u4"), ("weight", "<f4")])
"""The compound type of PlaneSegmentation.pixel_mask rows (x = column, y = row, weight)."""


@dataclass(frozen=True)
class ResponsePlane:
    """One RoiResponseSeries and its ROIs: the columns it contributes to the session's responses.

    `rows` are the ROI table rows of the columns; centroids are computed on demand (`coordinates()`),
    since dense image masks can be hundreds of megabytes. `transposed`: the file stores the series
    ROIs x time (as suite2p's NWB writer has), so time is its second axis. `roi_ids` (n,) are the
    columns' ids in the session: the ROI table's own ids (`file_ids`) plus `id_offset`, which is 0 unless
    ids repeat across the session's planes (`id_offsets`). `notes`: what the reader decided about these
    ROIs (ids made unique, z from the plane's description, x / y not one frame of reference).
    """

    series: RoiResponseSeries
    path: str
    roi_ids: np.ndarray
    table: object
    rows: np.ndarray
    plane: int
    transposed: bool = False
    id_offset: int = 0
    notes: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        """Imaging frames (samples in time) the series holds."""
        return int(self.series.data.shape[1 if self.transposed else 0])

    @property
    def file_ids(self) -> np.ndarray:
        """(n,) int64 ids of the columns' ROIs in the file's ROI table."""
        return self.roi_ids - self.id_offset

    def frame_times(self, where: str | None = None) -> tuple[np.ndarray, list[str]]:
        """Time (s) of every imaging frame, (n_frames,) float64, and notes on the clock: a clock one
        timestamp longer than the frames (OpenScope's ROIs x time dF/F) is read with its first n_frames.

        `where` names the series in errors and notes (default: its path).
        """
        notes: list[str] = []
        times = series_times(self.series, where or self.path, self.n_frames, notes=notes)
        return times, notes

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Frames start..stop as (frames, ROIs) in the stored dtype, whichever way the file stores them."""
        data = self.series.data
        with reading(self.path):
            block = np.asarray(data[:, start:stop]).T if self.transposed else np.asarray(data[start:stop])
        return block.reshape(-1, len(self.roi_ids))

    @property
    def coordinate_unit(self) -> str:
        """micrometers (the plane gives a grid spacing), pixels, or none (no masks)."""
        return coordinate_unit(self.table)

    def coordinates(self) -> tuple[np.ndarray, list[str]]:
        """(n, 3) float32 mask centroids (x, y, z) in `coordinate_unit` (z in micrometres), and notes on
        the ROIs: this plane's `notes`, and what was repaired.

        An ROI with an empty mask has no centroid: it is placed at the mean centroid of the others
        (a NaN would make every readout position NaN), and a note names it.
        """
        table = object_path(self.table)
        with reading(table):
            coordinates = roi_coordinates(self.table, self.rows)
        empty = ~np.isfinite(coordinates).all(axis=1)
        if not empty.any():
            return coordinates, list(self.notes)
        coordinates[empty] = coordinates[~empty].mean(axis=0) if (~empty).any() else 0.0
        ids = ", ".join(str(int(i)) for i in self.file_ids[empty][:10])
        more = f" and {int(empty.sum()) - 10} more" if empty.sum() > 10 else ""
        repaired = f"{table}: ROI {ids}{more}: empty masks, placed at the others' mean centroid"
        return coordinates, [*self.notes, repaired]


def choose_planes(nwbfile: NWBFile, requested: str | None, where: str) -> list[ResponsePlane]:
    """The response planes a session is made of, in column order: the one choice `convert`, `inspect`
    and `predict` all use (`requested`: the --responses option; `where` names the file in errors)."""
    candidates = [(object_path(s), s) for s in _response_candidates(nwbfile.objects.values())]
    chosen = _choose_response_series(candidates, requested, where)
    planes = [_response_plane(path, series, index, where) for index, (path, series) in enumerate(chosen)]
    offsets = id_offsets([plane.roi_ids for plane in planes], where)
    return [
        replace(plane, roi_ids=plane.roi_ids + offset, id_offset=offset, notes=tuple(notes))
        for plane, offset, notes in zip(planes, offsets, _plane_notes(planes, offsets), strict=True)
    ]


def id_offsets(file_ids: Sequence[np.ndarray], where: str) -> list[int]:
    """What each plane (in column order) adds to its ROI table's ids to make them unique in the session.

    0 for every plane where no id repeats across planes; else plane index x the smallest power of ten
    above every id (neuroconv's Suite2p planes, ids 0..49 each: 0 and 100, so plane 1's ROI 7 is 107).
    `file_ids`: each plane's (n,) ids, one plane or more; SessionError where repeated ids cannot be
    qualified.
    """
    ids = np.concatenate(file_ids)
    if len(np.unique(ids)) == len(ids):
        return [0] * len(file_ids)
    if ids.min() < 0 or ids.max() >= np.iinfo(np.int64).max // (10 * len(file_ids)):
        raise SessionError(
            f"ROI ids repeat across planes and range from {int(ids.min())} to {int(ids.max())}, so they "
            "cannot be qualified by plane; give each ROI its own id",
            where=where,
        )
    stride = 10 ** len(str(int(ids.max())))
    return [index * stride for index in range(len(file_ids))]


def _plane_notes(planes: list[ResponsePlane], offsets: list[int]) -> list[list[str]]:
    """Each plane's notes: its ids made unique, z read from its imaging plane's description, and x / y in
    a frame of its own (imaging planes at different locations without origin_coords, as AllenSDK's
    mesoscope planes are)."""
    imaging = [getattr(plane.table, "imaging_plane", None) for plane in planes]
    locations = {str(found.location) for found in imaging if found is not None}
    notes: list[list[str]] = []
    described: set[int] = set()
    for plane, offset, found in zip(planes, offsets, imaging, strict=True):
        mine = []
        if offset:
            first = int(plane.roi_ids[0])
            mine.append(
                f"{plane.path} (plane {plane.plane}): ROI ids repeat those of other planes, so its ROIs' "
                f"ids in the session are the file's plus {offset} (its ROI {first} is {first + offset})"
            )
        if found is not None and plane.coordinate_unit != "none" and id(found) not in described:
            described.add(id(found))
            _, depth_note = _plane_depth(found)
            if depth_note:
                mine.append(f"{plane.path}: {depth_note}")
            if len(locations) > 1 and _origin_um(found) is None:
                others = ", ".join(sorted(locations - {str(found.location)}))
                mine.append(
                    f"{plane.path}: imaging plane {found.name} ({found.location}) has no origin_coords, so "
                    f"its ROIs' x, y ({plane.coordinate_unit}) are in a frame of its own, not one frame of "
                    f"reference with the planes in {others}"
                )
        notes.append(mine)
    return notes


def _rank(series: RoiResponseSeries) -> tuple[int, int, str]:
    container = 0 if isinstance(series.parent, DfOverF) or "dff" in series.parent.name.lower() else 1
    kind = 2 if _NEUROPIL.search(series.name) else (1 if _DECONVOLVED.search(series.name) else 0)
    return container, kind, series.name


def _choose_response_series(
    candidates: list[tuple[str, RoiResponseSeries]], requested: str | None, where: str
) -> list[tuple[str, RoiResponseSeries]]:
    """The series that make up the session's responses: one per ROI table (planes), best kind first.

    DfOverF before Fluorescence; raw traces before deconvolved ones; neuropil never by default.
    `requested` (a name or a path) picks one series, or every series of a named container.
    """
    if not candidates:
        raise MissingDataError(NO_RESPONSES, where=where)
    if requested:
        chosen = [
            (p, s) for p, s in candidates if requested in (s.name, p, s.parent.name) or p.endswith(requested)
        ]
        if not chosen:
            names = ", ".join(p for p, _ in candidates)
            raise SessionError(f"no response series named {requested!r}; available: {names}", where=where)
        return sorted(chosen, key=lambda item: item[0])
    best_container = min(_rank(s)[0] for _, s in candidates)
    pool = [(p, s) for p, s in candidates if _rank(s)[0] == best_container]
    by_table: dict[int, tuple[str, RoiResponseSeries]] = {}
    for path, series in sorted(pool, key=lambda item: _rank(item[1])):
        table = id(series.rois.table) if series.rois is not None else id(series)
        by_table.setdefault(table, (path, series))
    chosen = [item for item in by_table.values() if not _NEUROPIL.search(item[1].name)]
    return sorted(chosen or list(by_table.values()), key=lambda item: item[0])


def _response_plane(path: str, series: RoiResponseSeries, plane: int, where: str) -> ResponsePlane:
    """ROI ids (in column order) and centroids of the ROIs behind one response series."""
    n_columns = int(series.data.shape[1]) if len(series.data.shape) > 1 else 1
    if n_columns == 0:
        raise MissingDataError(f"{path} has no ROIs (0 columns); there is nothing to model", where=where)
    if series.rois is None:
        raise SessionError(f"{path} has no 'rois' region; cannot tell which ROI each column is", where=where)
    table = series.rois.table
    rows = np.asarray(series.rois.data[:], dtype=np.int64)
    transposed = stored_transposed(series, len(rows), path, where)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(table.id)):
        raise SessionError(
            f"{path} points at ROI rows outside {table.name} ({len(table.id)} rows)", where=where
        )
    ids = np.asarray(table.id.data[:], dtype=np.int64)[rows]
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        repeated, times = int(unique[counts > 1][0]), int(counts[counts > 1][0])
        raise SessionError(
            f"{path}: ROI id {repeated} appears {times} times in {object_path(table)}; "
            "outputs are keyed by ROI id, so give each ROI its own id",
            where=where,
        )
    return ResponsePlane(series, path, ids, table, rows, plane, transposed)


def stored_transposed(series: RoiResponseSeries, n_rois: int, path: str, where: str) -> bool:
    """Whether the series is stored ROIs x time rather than time x ROIs (as suite2p's NWB writer has
    stored it), from the ROI region's length and the clock's (its timestamps, as many as the frames or,
    as OpenScope's dF/F has, one more; a rate has no length).

    SessionError when neither order fits, or when both do (square, and the clock cannot tell).
    """
    shape = tuple(int(n) for n in series.data.shape)
    n_columns = shape[1] if len(shape) > 1 else 1
    samples = None if series.timestamps is None else len(series.timestamps)
    transposed = len(shape) == 2 and shape[0] == n_rois and samples in (None, shape[1], shape[1] + 1)
    if not transposed:
        if n_columns != n_rois:
            raise SessionError(
                f"{path} has {n_columns} columns but its ROI region lists {n_rois} ROIs; "
                "the ROI table and the responses disagree",
                where=where,
            )
        return False  # a clock that disagrees is reported where the clock is read (series_times)
    if n_columns == n_rois and n_rois > 1:
        clock = f"{samples} timestamps" if samples is not None else "a rate"
        raise SessionError(
            f"{path} is {shape[0]} x {shape[1]} with {n_rois} ROIs and {clock}, so which axis is "
            "time cannot be told; store it time x ROIs without its last frame, so that the two differ",
            where=where,
        )
    return n_columns != n_rois


def coordinate_unit(table) -> str:
    """Unit of the centroids `roi_coordinates` gives for this table."""
    if not isinstance(table, PlaneSegmentation) or not {"pixel_mask", "image_mask"} & set(table.colnames):
        return "none"
    return "pixels" if getattr(table.imaging_plane, "grid_spacing", None) is None else "micrometers"


def roi_coordinates(table, rows: np.ndarray) -> np.ndarray:
    """Mask centroids of the given rows as (n, 3) (x, y, z); x, y in micrometres through the plane's grid
    spacing and origin when it gives a spacing, else pixels; z in micrometres (`_plane_depth`)."""
    unit = coordinate_unit(table)
    if unit == "none":
        return np.zeros((len(rows), 3), np.float32)
    if "pixel_mask" in table.colnames:
        x, y = _pixel_mask_centroids(table, rows)
    else:
        x, y = _image_mask_centroids(table, rows)
    plane = table.imaging_plane
    z = np.full_like(x, _plane_depth(plane)[0])
    if unit == "pixels":
        return np.column_stack([x, y, z]).astype(np.float32)
    factor = _METRES.get(str(getattr(plane, "grid_spacing_unit", "meters")).lower(), 1e6)
    spacing = np.asarray(plane.grid_spacing[:], dtype=np.float64) * factor
    origin = _origin_um(plane)
    x0, y0 = (0.0, 0.0) if origin is None else (origin[0], origin[1] if len(origin) > 1 else 0.0)
    return np.column_stack([x0 + x * spacing[0], y0 + y * spacing[1], z]).astype(np.float32)


def _origin_um(plane) -> np.ndarray | None:
    """An imaging plane's origin_coords in micrometres, (2 or 3,) float64, or None when it gives none."""
    if getattr(plane, "origin_coords", None) is None:
        return None
    factor = _METRES.get(str(getattr(plane, "origin_coords_unit", "meters")).lower(), 1e6)
    return np.asarray(plane.origin_coords[:], np.float64)[:3] * factor


def _plane_depth(plane) -> tuple[float, str | None]:
    """z (micrometres) of an imaging plane's ROIs, and a note when it is read from the description.

    The z of its origin_coords when given; else the depth its description states (AllenSDK writes
    '(512, 512) field of view in VISp at depth 150 um' and no origin); else 0.
    """
    origin = _origin_um(plane)
    if origin is not None and len(origin) > 2:
        return float(origin[2]), None
    found = _DEPTH.search(str(getattr(plane, "description", None) or ""))
    if found is None:
        return 0.0, None
    depth = float(found["depth"] or found["below"])
    return depth, f"z = {depth:g} um, the depth imaging plane {plane.name}'s description gives (no origin z)"


def _pixel_mask_centroids(table: PlaneSegmentation, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted centroids (x, y) from the ragged pixel_mask column, vectorised over all ROIs."""
    column = table["pixel_mask"]
    ends = np.asarray(column.data[:], dtype=np.int64)
    pixels = column.target.data[:]
    starts = np.concatenate([[0], ends[:-1]])
    if pixels.dtype.names:
        values = np.stack([np.asarray(pixels[name], np.float64) for name in pixels.dtype.names[:3]], axis=1)
    else:
        values = np.asarray(pixels, np.float64)
    weight = values[:, 2]
    sums = np.add.reduceat(
        np.column_stack([values[:, 0] * weight, values[:, 1] * weight, weight]), starts, axis=0
    )
    sums[ends == starts] = np.nan
    centroids = sums[:, :2] / sums[:, 2:3]
    return centroids[rows, 0], centroids[rows, 1]


def _image_mask_axes(table: PlaneSegmentation) -> str:
    """'xy' (the schema's order) unless AllenSDK-style bounding boxes show the masks are (rows, columns)."""
    if not {"x", "y", "width", "height"} <= set(table.colnames) or len(table.id) == 0:
        return "xy"
    mask = np.asarray(table["image_mask"].data[0])
    _, cols = np.nonzero(mask)
    x0 = float(table["x"].data[0])
    width = float(table["width"].data[0])
    return "yx" if x0 - 1 <= cols.mean() <= x0 + width + 1 else "xy"


def _image_mask_centroids(table: PlaneSegmentation, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted centroids (x, y) from dense image masks, read a block of ROIs at a time."""
    data = table["image_mask"].data
    order = _image_mask_axes(table)
    n, first_axis, second_axis = data.shape
    a = np.arange(first_axis, dtype=np.float64)
    b = np.arange(second_axis, dtype=np.float64)
    centroid_a = np.empty(n)
    centroid_b = np.empty(n)
    for start in range(0, n, _MASK_BLOCK):
        block = np.asarray(data[start : start + _MASK_BLOCK], dtype=np.float32)
        marginal_a = block.sum(axis=2, dtype=np.float64)
        total = marginal_a.sum(axis=1)
        total[total == 0] = np.nan
        centroid_a[start : start + len(block)] = marginal_a @ a / total
        centroid_b[start : start + len(block)] = block.sum(axis=1, dtype=np.float64) @ b / total
    x, y = (centroid_a, centroid_b) if order == "xy" else (centroid_b, centroid_a)
    return x[rows], y[rows]


def _response_candidates(objects) -> list[RoiResponseSeries]:
    """Every RoiResponseSeries inside DfOverF or Fluorescence containers."""
    return [
        o
        for o in objects
        if isinstance(o, RoiResponseSeries) and isinstance(o.parent, (DfOverF, Fluorescence))
    ]
