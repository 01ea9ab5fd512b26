"""Predictions into NWB: one processing module beside the recording, nothing of the source changed.

```
/processing/<name>/                  ProcessingModule
    model                            V1FormerModel (ndx-v1former): checkpoint digest, config, training data
    <series>                         PredictedRoiResponseSeries, one per recorded response series (plane):
                                     same ROI rows, same imaging times (linked), NaN where not predicted
    evaluation                       DynamicTable, one row per ROI: roi_id (the session's), its predicted
                                     series and file_roi_id (its id in that series' ROI table), metrics
                                     on held-out trials (if any)
```

A ROI's id in the session (`roi_id`: the store's, the model readout's, the in-silico tables') is its ROI
table's own id unless ids repeat across planes, where it is plane-qualified (`rois.id_offsets`);
`predicted_rois` maps every session id of a module back to its series and the file's own id.

The source's bytes are copied to a temporary sibling, the module is appended there, the copy is
validated, fsynced and renamed into place (over the source with `in_place`). Every dataset of the
source stays byte-identical (pynwb's append does rewrite the root `nwb_version` attribute to its own
schema version, and caches that schema beside the file's); a crash at any moment leaves the source
and any earlier output whole (a killed run may leave its `.<name>.partial-<pid>.nwb` behind: the next
write of the file removes it). With `in_place`, a symlink is written through to its target; a file
with several hard links is refused.

A Zarr source (`.nwb.zarr`) gets a Zarr copy, written the same way with hdmf-zarr (`backends`): a
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
from hdmf.common import DynamicTable, VectorData
from hdmf.validate import ValidatorMap
from tqdm.auto import tqdm

from nwb_v1former.atomic import (
    OutputKind,
    atomic_output,
    check_apart,
    check_writable,
    in_place_target,
    require_swap,
    require_writable,
)
from nwb_v1former.errors import ConfigError, OutputError, OutputExistsError, SessionError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.backends import GROUPS, ZARR, backend_of
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.extension import NAMESPACE, PredictedRoiResponseSeries
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation
from nwb_v1former.nwb.resample import FrameStream
from nwb_v1former.nwb.rois import choose_planes, id_offsets
from nwb_v1former.nwb.timing import check_increasing

DEFAULT_NAME = "v1former_predictions"
CHUNK_BYTES = 1 << 20
"""Target size of one chunk of predictions (all ROIs of a plane, as many frames as fit), compressed as
its backend says (`backends`)."""
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class WrittenPredictions:
    """Where predictions went: the file, the module, one series per plane; imaging frames (summed over
    planes) and how many of them have a value."""

    path: Path
    module: str
    series: tuple[str, ...]
    frames: int
    predicted_frames: int
    replaced: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "module": self.module,
            "series": list(self.series),
            "frames": self.frames,
            "predicted_frames": self.predicted_frames,
            "replaced_earlier_predictions": self.replaced,
        }


@dataclass(frozen=True)
class _Plane:
    """One recorded response series the predictions cover: its objects (by id), ROIs (rows and the
    table's own ids) and clock."""

    series_id: str
    table_id: str
    path: str
    name: str
    rows: np.ndarray
    file_ids: np.ndarray
    times: np.ndarray
    columns: slice


def _planes(source: Path, roi_ids: np.ndarray, responses: str | None) -> list[_Plane]:
    """The response series the predictions' columns belong to: the reader's own choice (`choose_planes`).

    `roi_ids` are the caller's word for the columns; they must be the chosen planes' ROIs (their ids in
    the session), in order.
    """
    with open_nwb(source) as nwbfile:
        found = choose_planes(nwbfile, responses, str(source))
        ends = np.cumsum([len(plane.roi_ids) for plane in found])
        planes = [
            _Plane(
                plane.series.object_id,
                plane.table.object_id,
                plane.path,
                plane.series.name,
                plane.rows,
                plane.file_ids,
                plane.frame_times(f"{source}: {plane.path}")[0],
                slice(int(end) - len(plane.rows), int(end)),
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


def output_path(source: Path, out: str | Path | None, *, in_place: bool, name: str, overwrite: bool) -> Path:
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


def _series_names(planes: list[_Plane]) -> list[str]:
    """The recorded series' names, made unique (two planes may share one from different containers)."""
    names: list[str] = []
    for plane in planes:
        name, suffix = plane.name, 2
        while name in names or name in ("model", "evaluation"):
            name, suffix = f"{plane.name}_{suffix}", suffix + 1
        names.append(name)
    return names


def _evaluation_table(
    evaluation: RoiEvaluation, planes: list[_Plane], names: list[str], roi_ids: np.ndarray
) -> DynamicTable:
    series = np.concatenate([[name] * len(plane.rows) for plane, name in zip(planes, names, strict=True)])
    columns = [
        VectorData(
            name="roi_id",
            description=(
                "The ROI's id in the session (nwb-v1former's store, model readout and in-silico tables): "
                "file_roi_id, plus a per-plane offset where ROI ids repeat across planes."
            ),
            data=roi_ids.tolist(),
        ),
        VectorData(
            name="predicted_series",
            description="The predicted series (in this module) whose column this ROI is.",
            data=series.tolist(),
        ),
        VectorData(
            name="file_roi_id",
            description="The ROI's id in the PlaneSegmentation that predicted_series' rois point at.",
            data=np.concatenate([plane.file_ids for plane in planes]).tolist(),
        ),
    ]
    for metric, (description, values) in evaluation.metrics.items():
        values = np.asarray(values, np.float64)
        if values.shape != (len(roi_ids),):
            raise ConfigError(f"evaluation metric {metric!r} has shape {values.shape}, not ({len(roi_ids)},)")
        columns.append(VectorData(name=metric, description=description, data=values))
    return DynamicTable(
        name="evaluation",
        description=(
            f"Per-ROI evaluation of the predictions on the session's {evaluation.n_trials} held-out "
            f"{evaluation.tier} trials, on the model's {TICK_RATE_HZ:g} Hz grid; NaN: the ROI cannot be "
            "scored."
        ),
        columns=columns,
    )


def predicted_rois(module) -> dict[int, tuple[str, int]]:
    """Every ROI a predictions module (read from its file) predicts: its id in the session -> (the
    predicted series' name, the ROI's id in that series' ROI table).

    The session's ids are recomputed by the reader's rule (`id_offsets`) over the recorded series in
    the reader's column order (by path).
    """
    predicted = sorted(
        (posixpath.dirname(series.recorded.data.name), series)
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


@contextlib.contextmanager
def _appended(
    path: Path,
    planes: list[_Plane],
    model: ModelProvenance,
    evaluation: RoiEvaluation | None,
    name: str,
    roi_ids: np.ndarray,
) -> Iterator[tuple[list[h5py.Dataset | zarr.Array], list[str]]]:
    """Append the module to the copy with empty prediction datasets; yield them and the series' names.

    The file stays open inside the block, for the datasets to be filled.
    """
    backend = backend_of(path)
    with backend.io(path, "a") as io:
        nwbfile = io.read()
        module = nwbfile.create_processing_module(
            name=name,
            description=(
                f"Responses predicted by the ViV1T model (nwb-v1former) for the recorded ROIs, with the "
                f"model's provenance (checkpoint {model.checkpoint_sha256[:12]}) and per-ROI evaluation."
            ),
        )
        provenance = model.to_nwb()
        module.add(provenance)
        names = _series_names(planes)
        datasets = []
        for plane, series_name in zip(planes, names, strict=True):
            recorded = nwbfile.objects[plane.series_id]
            width = len(plane.rows)
            rows = int(np.clip(CHUNK_BYTES // (4 * max(width, 1)), 1, len(plane.times)))
            data = backend.empty_data((len(plane.times), width), (rows, width))
            if recorded.timestamps is None:
                clock = {"rate": float(recorded.rate), "starting_time": float(recorded.starting_time or 0.0)}
            elif len(recorded.timestamps) == len(plane.times):
                clock = {"timestamps": recorded}
            else:  # one timestamp more than frames (ResponsePlane.frame_times): the frames' own times
                clock = {"timestamps": plane.times}
            warning = " Trained on simulated data only." if model.trained_on_simulated_data else ""
            module.add(
                PredictedRoiResponseSeries(
                    name=series_name,
                    data=data,
                    unit=recorded.unit,
                    rois=nwbfile.objects[plane.table_id].create_roi_table_region(
                        region=plane.rows.tolist(), description=f"The ROIs of {plane.path}, in its order"
                    ),
                    model=provenance,
                    model_rate=TICK_RATE_HZ,
                    recorded=recorded,
                    description=(
                        f"ViV1T predictions of {plane.path} (same ROIs and imaging times, in its unit), "
                        f"linearly interpolated from the model's {TICK_RATE_HZ:g} Hz grid; NaN at imaging "
                        f"times outside the predicted span.{warning}"
                    ),
                    **clock,
                )
            )
            datasets.append(data)
        if evaluation is not None:
            module.add(_evaluation_table(evaluation, planes, names, roi_ids))
        io.write(nwbfile)
        yield (
            [
                backend.written(io, data, f"processing/{name}/{series_name}/data")
                for data, series_name in zip(datasets, names, strict=True)
            ],
            names,
        )


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


def write_predictions(
    source: str | Path,
    predictions: Iterable[tuple[int, np.ndarray]],
    *,
    tick_times: np.ndarray,
    roi_ids: np.ndarray,
    model: ModelProvenance,
    evaluation: RoiEvaluation | None = None,
    out: str | Path | None = None,
    in_place: bool = False,
    name: str = DEFAULT_NAME,
    responses: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> WrittenPredictions:
    """Write predictions made on the 30 Hz ticks into /processing/<name> of a copy of `source` (or of it).

    predictions: (first_tick, (n, N) float32) blocks in tick order, in the responses' unit, e.g. from
    `predict_windows`; tick_times (T,) s on the file's clock; roi_ids (N,) the columns' ids in the
    session (the store's `roi_ids`), plane by plane as the reader orders them. Imaging frames outside
    the predicted ticks get NaN. An earlier module of the same `name` is replaced; other names are kept.
    """
    source = Path(source)
    final = output_path(source, out, in_place=in_place, name=name, overwrite=overwrite)
    roi_ids = np.asarray(roi_ids, np.int64)
    tick_times = np.asarray(tick_times, np.float64)
    check_increasing(tick_times, "tick_times")
    planes = _planes(source, roi_ids, responses)
    kind = None if in_place else PREDICTIONS
    with atomic_output(final, overwrite=overwrite or in_place, kind=kind) as temporary:
        backend_of(source).copy(source, temporary)
        replaced = _remove_earlier(temporary, name, source)
        with _appended(temporary, planes, model, evaluation, name, roi_ids) as (datasets, names):
            streams = [
                FrameStream(dataset, plane.times, tick_times, plane.columns, block_rows=dataset.chunks[0])
                for plane, dataset in zip(planes, datasets, strict=True)
            ]
            with tqdm(total=len(tick_times), desc="predict", unit="tick", disable=not progress) as bar:
                for first_tick, block in predictions:
                    if np.ndim(block) != 2 or np.shape(block)[1] != len(roi_ids):
                        shape = np.shape(block)
                        raise ConfigError(
                            f"a prediction block has shape {shape}; expected (ticks, {len(roi_ids)})"
                        )
                    for stream in streams:
                        stream.add(first_tick, block)
                    bar.update(len(block))
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
    )
