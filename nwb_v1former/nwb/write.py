"""Predictions into NWB: one processing module (see `prediction_module`), nothing of the source changed.

`--out` writes a file of its own (`derived`): by default a predictions-only file (the source's subject,
session and ROI tables, no raw data), or with `copy="full"` the whole source under new object ids and a
new identifier; either records the source in the module's PredictionSource. `in_place` adds the module
to the source itself.

A ROI's id in the session (`roi_id`: the store's, the model readout's, the in-silico tables') is its ROI
table's own id unless ids repeat across planes, where it is plane-qualified (`rois.id_offsets`);
`predicted_rois` maps every session id of a module back to its series and the file's own id.

The output is made as a temporary sibling (a byte copy of the source, or the new file), the module is
written there, validated, fsynced and renamed into place (over the source with `in_place`). Every
dataset of the source stays byte-identical in a full copy or in place (pynwb's append does rewrite the
root `nwb_version` attribute to its own schema version, and caches that schema beside the file's); a
crash at any moment leaves the source and any earlier output whole (a killed run may leave its
`.<name>.partial-<pid>.nwb` behind: the next write of the file removes it). With `in_place`, a symlink
is written through to its target; a file with several hard links is refused.

A Zarr source (`.nwb.zarr`) gets a Zarr output, written the same way with hdmf-zarr (`backends`): a
folder, renamed into place whole; in place, it is swapped with the source in one step, and refused
where the file system cannot do that (`require_swap`).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import zarr
from hdmf.validate import ValidatorMap
from pynwb import NWBFile

from nwb_v1former.atomic import (
    OutputKind,
    atomic_output,
    check_apart,
    check_writable,
    in_place_target,
    require_swap,
    require_writable,
)
from nwb_v1former.digest import sha256
from nwb_v1former.errors import ConfigError, OutputError, OutputExistsError, SessionError
from nwb_v1former.nwb.backends import GROUPS, HDF5, ZARR, backend_of
from nwb_v1former.nwb.derived import (
    COPIES,
    DEFAULT_COPY,
    PREDICTIONS_ONLY,
    derived_nwbfile,
    export_zarr_with_new_ids,
    new_identifier,
    renew_hdf5_identity,
)
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.extension import NAMESPACE, PredictedRoiResponseSeries
from nwb_v1former.nwb.prediction_module import Plane, Target, add_module
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation, SourceFile
from nwb_v1former.nwb.resample import FrameStream
from nwb_v1former.nwb.rois import choose_planes, id_offsets
from nwb_v1former.nwb.split_table import Split
from nwb_v1former.nwb.timing import check_increasing
from nwb_v1former.progress import QUIET, Reporter

DEFAULT_NAME = "v1former_predictions"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class WrittenPredictions:
    """Where predictions went: the file, the module, one series per plane; imaging frames (summed over
    planes) and how many of them have a value; what the file holds of its source (`copy`: None in place)
    and its identifier."""

    path: Path
    module: str
    series: tuple[str, ...]
    frames: int
    predicted_frames: int
    replaced: bool
    copy: str | None
    identifier: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "module": self.module,
            "series": list(self.series),
            "frames": self.frames,
            "predicted_frames": self.predicted_frames,
            "replaced_earlier_predictions": self.replaced,
            "copy": self.copy,
            "identifier": self.identifier,
        }


def _planes(nwbfile: NWBFile, source: Path, roi_ids: np.ndarray, responses: str | None) -> list[Plane]:
    """The response series the predictions' columns belong to: the reader's own choice (`choose_planes`).

    `roi_ids` are the caller's word for the columns; they must be the chosen planes' ROIs (their ids in
    the session), in order.
    """
    found = choose_planes(nwbfile, responses, str(source))
    ends = np.cumsum([len(plane.roi_ids) for plane in found])
    planes = [
        Plane(
            plane.series.object_id,
            plane.table.object_id,
            plane.path,
            plane.series.name,
            plane.series.unit,
            plane.rows,
            plane.file_ids,
            plane.frame_times(f"{source}: {plane.path}")[0],
            slice(int(end) - len(plane.rows), int(end)),
            None if plane.series.timestamps is not None else float(plane.series.rate),
            float(plane.series.starting_time or 0.0),
        )
        for plane, end in zip(found, ends, strict=True)
    ]
    file_ids = np.concatenate([plane.roi_ids for plane in found])
    if not np.array_equal(file_ids, roi_ids):
        raise SessionError(
            f"the predictions' {len(roi_ids)} ROI ids are not the ROIs of its responses "
            f"({', '.join(plane.path for plane in found)}: {len(file_ids)} ROIs); predict with a model "
            "fitted to this file's session, with the same --responses",
            where=source,
        )
    return planes


def output_path(
    source: Path,
    out: str | Path | None,
    *,
    in_place: bool,
    name: str,
    overwrite: bool,
    copy: str = DEFAULT_COPY,
) -> Path:
    """The file predictions will go to, after checking the options (before any work is done).

    In place, that is the file a symlink points to (see `in_place_target`); `--out` may not overlap the
    source, and `overwrite` replaces only a file holding earlier predictions.
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"prediction name {name!r} must be letters, digits, '_', '.' or '-' (it names "
            "/processing/<name>); choose another --name"
        )
    if in_place == (out is not None):
        raise ConfigError("give either an output file (--out) or --in-place to add predictions to the source")
    if copy not in COPIES:
        raise ConfigError(f"copy {copy!r}: choose one of {', '.join(COPIES)}")
    backend = backend_of(source)
    if in_place:
        target = in_place_target(source)
        require_writable(target.parent)  # the new file is made beside it, then renamed over it
        if not os.access(target, os.W_OK):
            raise OutputError(
                "read-only or immutable, so --in-place cannot replace it; use --out", where=target
            )
        if backend is ZARR:
            require_swap(target.parent)
        return target
    final = Path(out)
    if final.resolve() == source.resolve():
        raise ConfigError("the output is the source; pass --in-place to add predictions to it", where=final)
    if backend_of(final) is not backend:
        raise ConfigError(
            f"the source is an NWB file in {backend.name}, and so is its copy: name --out *{backend.suffix}",
            where=final,
        )
    check_apart(final, [source])
    check_writable(final, overwrite, PREDICTIONS)
    require_writable(final.parent)
    return final


def _is_predictions(group: h5py.Group | zarr.Group) -> bool:
    """Whether a processing module holds nwb-v1former predictions (it has their V1FormerModel)."""
    return any(
        child.attrs.get("namespace") == NAMESPACE and child.attrs.get("neurodata_type") == "V1FormerModel"
        for child in group.values()
        if isinstance(child, GROUPS)
    )


def holds_predictions(path: Path) -> bool:
    """Whether `path` is an NWB file `predict` wrote (some processing module holds our predictions)."""
    backend = backend_of(path)
    if not backend.holds(path):
        return False
    try:
        with backend.root(path) as handle:
            modules = handle.get("processing")
            return modules is not None and any(
                _is_predictions(module) for module in modules.values() if isinstance(module, GROUPS)
            )
    except (OSError, SessionError):  # not HDF5 (Zarr) at all
        return False


def predictions_only_source(path: Path) -> str | None:
    """The source a predictions-only file `predict` wrote names ('NAME, identifier ID'), else None
    (any other file, or not an NWB file)."""
    backend = backend_of(path)
    if not backend.holds(path):
        return None
    try:
        with backend.root(path) as handle:
            modules = handle.get("processing")
            for module in modules.values() if modules is not None else ():
                source = module.get("source") if isinstance(module, GROUPS) else None
                if (
                    isinstance(source, GROUPS)
                    and source.attrs.get("neurodata_type") == "PredictionSource"
                    and source.attrs.get("copy") == PREDICTIONS_ONLY
                ):
                    return f"{source.attrs['file_name']}, identifier {source.attrs['identifier']}"
    except (OSError, SessionError):  # not an NWB file: its reader says so
        return None
    return None


PREDICTIONS = OutputKind("an NWB file nwb-v1former wrote predictions into", holds_predictions)


def _remove_earlier(path: Path, name: str, source: Path) -> bool:
    """Delete /processing/<name> from the copy `path` if it holds earlier predictions; refuse otherwise."""
    with backend_of(path).root(path, "a") as handle:
        group = handle.get(f"processing/{name}")
        if group is None:
            return False
        if not _is_predictions(group):
            raise OutputExistsError(
                f"/processing/{name} exists and is not nwb-v1former predictions; choose another --name",
                where=source,
            )
        del handle[f"processing/{name}"]
    return True


def predicted_rois(module) -> dict[int, tuple[str, int]]:
    """Every ROI a predictions module (read from its file) predicts: its id in the session -> (the
    predicted series' name, the ROI's id in that series' ROI table).

    The session's ids are recomputed by the reader's rule (`id_offsets`) over the recorded series in
    the reader's column order (by their paths in the source).
    """
    predicted = sorted(
        (_recorded_path(series), series)
        for series in module.data_interfaces.values()
        if isinstance(series, PredictedRoiResponseSeries)
    )
    file_ids = [np.asarray(s.rois.table.id[:], np.int64)[np.asarray(s.rois.data[:])] for _, s in predicted]
    offsets = id_offsets(file_ids, module.name)
    return {
        int(roi + offset): (series.name, int(roi))
        for (_, series), ids, offset in zip(predicted, file_ids, offsets, strict=True)
        for roi in ids
    }


def _recorded_path(series) -> str:
    """The recorded series' path in its file: from the link, or as a predictions-only file names it."""
    if series.recorded is not None:
        return posixpath.dirname(series.recorded.data.name)
    return str(series.recorded_path)


def validate_module(path: Path, name: str, *, what: str, where: object) -> None:
    """Refuse /processing/<name> of the file at `path` (a temporary copy of `where`) as written, read back
    from disk and checked against its spec: SessionError naming `what` (the predictions, the tables) and
    the first schema error, before the copy replaces anything."""
    with backend_of(path).io(path, "r") as io:
        module = io.read_builder()["processing"][name]
        validator = ValidatorMap(io.manager.namespace_catalog.get_namespace(NAMESPACE))
        problems = [str(error) for error in validator.validate(module)]
    if problems:
        raise SessionError(f"{what} did not validate ({problems[0]}); nothing was written", where=where)


def _source_file(source: Path, nwbfile: NWBFile, copy: str) -> SourceFile:
    """What a file of its own records of its source (a digest for an HDF5 file only: a Zarr store is a
    folder)."""
    return SourceFile(
        file_name=source.name,
        identifier=str(nwbfile.identifier),
        file_object_id=str(nwbfile.object_id),
        copy=copy,
        sha256=sha256(source) if backend_of(source) is HDF5 else None,
    )


@contextlib.contextmanager
def _output(
    source: Path, opened: NWBFile, temporary: Path, planes: list[Plane], *, copy: str | None, name: str
) -> Iterator[tuple[Any, NWBFile, list[Target], bool]]:
    """The temporary output opened to write: (its IO, its NWBFile, each plane's target, whether earlier
    predictions of `name` were removed). In place or a full copy: the source's bytes (a full copy
    renamed), appended to; predictions-only: a new file."""
    backend = backend_of(source)
    if copy == PREDICTIONS_ONLY:
        nwbfile, tables = derived_nwbfile(
            opened,
            list({plane.table_id: opened.objects[plane.table_id] for plane in planes}.values()),
            identifier=new_identifier(),
            source_name=source.name,
        )
        with backend.io(temporary, "w") as io:
            yield io, nwbfile, [Target(tables[plane.table_id], None) for plane in planes], False
        return
    if copy is None:
        backend.copy(source, temporary)
    elif backend is ZARR:
        export_zarr_with_new_ids(source, temporary, new_identifier())
    else:
        backend.copy(source, temporary)
        renew_hdf5_identity(temporary, new_identifier())
    replaced = _remove_earlier(temporary, name, source)
    with backend.root(temporary) as root:  # a full copy's objects have new ids: found by their paths
        series_ids = [str(root[plane.path].attrs["object_id"]) for plane in planes]
    with backend.io(temporary, "a") as io:
        nwbfile = io.read()
        recorded = [nwbfile.objects[series_id] for series_id in series_ids]
        yield io, nwbfile, [Target(series.rois.table, series) for series in recorded], replaced


def write_predictions(
    source: str | Path,
    predictions: Iterable[tuple[int, np.ndarray]],
    *,
    tick_times: np.ndarray,
    roi_ids: np.ndarray,
    model: ModelProvenance,
    evaluation: RoiEvaluation | None = None,
    split: Split | None = None,
    out: str | Path | None = None,
    in_place: bool = False,
    copy: str = DEFAULT_COPY,
    name: str = DEFAULT_NAME,
    responses: str | None = None,
    overwrite: bool = False,
    reporter: Reporter = QUIET,
    nwbfile: NWBFile | None = None,
) -> WrittenPredictions:
    """Write predictions made on the 30 Hz ticks into /processing/<name> of a new file `out` (`copy`:
    predictions-only or full, see `derived`) or of `source` itself (`in_place`).

    predictions: (first_tick, (n, N) float32) blocks in tick order, in the responses' unit, e.g. from
    `predict_windows`; tick_times (T,) s on the file's clock; roi_ids (N,) the columns' ids in the
    session (the store's `roi_ids`), plane by plane as the reader orders them; `split` the session's
    trials and tiers. Imaging frames outside the predicted ticks get NaN. An earlier module of the same
    `name` is replaced; other names are kept. `nwbfile`: the source already open (read once per command).
    """
    source = Path(source)
    final = output_path(source, out, in_place=in_place, name=name, overwrite=overwrite, copy=copy)
    roi_ids = np.asarray(roi_ids, np.int64)
    tick_times = np.asarray(tick_times, np.float64)
    check_increasing(tick_times, "tick_times")
    kept = None if in_place else copy
    with contextlib.ExitStack() as stack:
        opened = nwbfile if nwbfile is not None else stack.enter_context(open_nwb(source))
        planes = _planes(opened, source, roi_ids, responses)
        origin = None if in_place else _source_file(source, opened, copy)
        temporary = stack.enter_context(
            atomic_output(final, overwrite=overwrite or in_place, kind=None if in_place else PREDICTIONS)
        )
        output = _output(source, opened, temporary, planes, copy=kept, name=name)
        with output as (io, written, targets, replaced):
            backend = backend_of(source)
            names, empty = add_module(
                written,
                planes,
                targets,
                backend,
                name=name,
                model=model,
                roi_ids=roi_ids,
                evaluation=evaluation,
                split=split,
                source=origin,
            )
            io.write(written)
            identifier = str(written.identifier)
            datasets = [
                backend.written(io, data, f"processing/{name}/{series}/data")
                for data, series in zip(empty, names, strict=True)
            ]
            streams = [
                FrameStream(dataset, plane.times, tick_times, plane.columns, block_rows=dataset.chunks[0])
                for plane, dataset in zip(planes, datasets, strict=True)
            ]
            for first_tick, block in reporter.loop(predictions, what="predict", unit="window"):
                if np.ndim(block) != 2 or np.shape(block)[1] != len(roi_ids):
                    shape = np.shape(block)
                    raise ConfigError(
                        f"a prediction block has shape {shape}; expected (ticks, {len(roi_ids)})"
                    )
                for stream in streams:
                    stream.add(first_tick, block)
            for stream in streams:
                stream.finish()
        validate_module(temporary, name, what="the predictions", where=source)
    return WrittenPredictions(
        path=final,
        module=f"/processing/{name}",
        series=tuple(f"/processing/{name}/{series}" for series in names),
        frames=sum(len(plane.times) for plane in planes),
        predicted_frames=sum(stream.predicted for stream in streams),
        replaced=replaced,
        copy=kept,
        identifier=identifier,
    )
