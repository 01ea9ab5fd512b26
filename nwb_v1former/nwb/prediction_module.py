"""The predictions module itself: what `write_predictions` adds to an open NWBFile, with empty datasets.

```
/processing/<name>/                  ProcessingModule
    model                            V1FormerModel (ndx-v1former): checkpoint digest, config, training data
    source                           PredictionSource: the file predicted, when this is another file
    <series>                         PredictedRoiResponseSeries, one per recorded response series (plane):
                                     same ROI rows, same imaging times, NaN where not predicted
    evaluation                       DynamicTable, one row per ROI: roi_id (the session's), its predicted
                                     series and file_roi_id (its id in that series' ROI table), metrics
                                     on held-out trials (if any)
    split                            TimeIntervals: every trial and its tier (train, validation, test)
```
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hdmf.common import DynamicTable, DynamicTableRegion, VectorData
from hdmf.data_utils import DataIO
from pynwb import NWBFile
from pynwb.ophys import PlaneSegmentation, RoiResponseSeries

from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.backends import Backend
from nwb_v1former.nwb.extension import PredictedRoiResponseSeries
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation, SourceFile
from nwb_v1former.nwb.split_table import SPLIT_TABLE, Split

CHUNK_BYTES = 1 << 20
"""Target size of one chunk of predictions (all ROIs of a plane, as many frames as fit), compressed as
its backend says (`backends`)."""
_RESERVED = ("model", "source", "evaluation", SPLIT_TABLE)


@dataclass(frozen=True)
class Plane:
    """One recorded response series the predictions cover: its objects (by id), ROIs (rows and the
    table's own ids), frame times and, where it has no timestamps, its rate and starting time."""

    series_id: str
    table_id: str
    path: str
    name: str
    unit: str
    rows: np.ndarray
    file_ids: np.ndarray
    times: np.ndarray
    columns: slice
    rate: float | None
    starting_time: float


@dataclass(frozen=True)
class Target:
    """Where one plane's predictions point in the file written: its ROI table, and the recorded series
    when the file holds it (a copy of the source, or the source itself)."""

    table: PlaneSegmentation
    recorded: RoiResponseSeries | None


def series_names(planes: list[Plane]) -> list[str]:
    """The recorded series' names, made unique (two planes may share one from different containers)."""
    names: list[str] = []
    for plane in planes:
        name, suffix = plane.name, 2
        while name in names or name in _RESERVED:
            name, suffix = f"{plane.name}_{suffix}", suffix + 1
        names.append(name)
    return names


def _clock(plane: Plane, recorded: RoiResponseSeries | None) -> dict:
    """The predicted series' times: the recorded series' timestamps linked where this file holds them,
    else its rate, else the frames' own times."""
    if plane.rate is not None:
        return {"rate": plane.rate, "starting_time": plane.starting_time}
    if recorded is not None and len(recorded.timestamps) == len(plane.times):
        return {"timestamps": recorded}
    return {"timestamps": plane.times}  # one timestamp more than frames, or another file's clock


def add_module(
    nwbfile: NWBFile,
    planes: list[Plane],
    targets: list[Target],
    backend: Backend,
    *,
    name: str,
    model: ModelProvenance,
    roi_ids: np.ndarray,
    evaluation: RoiEvaluation | None = None,
    split: Split | None = None,
    source: SourceFile | None = None,
) -> tuple[list[str], list[DataIO]]:
    """Add /processing/<name> to `nwbfile`, one predicted series per plane with an empty dataset to
    fill once written; returns the series' names and their datasets."""
    module = nwbfile.create_processing_module(
        name=name,
        description=(
            f"Responses predicted by the ViV1T model (nwb-v1former) for the recorded ROIs, with the "
            f"model's provenance (checkpoint {model.checkpoint_sha256[:12]}), per-ROI evaluation and the "
            "trials' split."
        ),
    )
    provenance = model.to_nwb()
    module.add(provenance)
    if source is not None:
        module.add(source.to_nwb())
    names = series_names(planes)
    datasets = []
    warning = " Trained on simulated data only." if model.trained_on_simulated_data else ""
    for plane, target, series_name in zip(planes, targets, names, strict=True):
        width = len(plane.rows)
        rows = int(np.clip(CHUNK_BYTES // (4 * max(width, 1)), 1, len(plane.times)))
        data = backend.empty_data((len(plane.times), width), (rows, width))
        link = {"recorded": target.recorded} if target.recorded is not None else {"recorded_path": plane.path}
        module.add(
            PredictedRoiResponseSeries(
                name=series_name,
                data=data,
                unit=plane.unit,
                rois=target.table.create_roi_table_region(
                    region=plane.rows.tolist(), description=f"The ROIs of {plane.path}, in its order"
                ),
                model=provenance,
                model_rate=TICK_RATE_HZ,
                description=(
                    f"ViV1T predictions of {plane.path} (same ROIs and imaging times, in its unit), "
                    f"linearly interpolated from the model's {TICK_RATE_HZ:g} Hz grid; NaN at imaging "
                    f"times outside the predicted span.{warning}"
                ),
                **link,
                **_clock(plane, target.recorded),
            )
        )
        datasets.append(data)
    if evaluation is not None:
        module.add(_evaluation_table(evaluation, planes, targets, names, roi_ids))
    if split is not None:
        module.add(split.to_nwb())
    return names, datasets


def _evaluation_table(
    evaluation: RoiEvaluation,
    planes: list[Plane],
    targets: list[Target],
    names: list[str],
    roi_ids: np.ndarray,
) -> DynamicTable:
    """One row per ROI: its ids, its predicted series, a link to its ROI table row where every plane
    shares one table (`roi`), and every metric."""
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
    tables = {id(target.table): target.table for target in targets}
    if len(tables) == 1:
        columns.append(
            DynamicTableRegion(
                name="roi",
                description="The ROI's row in its ROI table (in this file).",
                data=np.concatenate([plane.rows for plane in planes]).tolist(),
                table=targets[0].table,
            )
        )
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
