"""In-silico results into a predictions file: DynamicTables beside the predictions they explain.

```
/processing/<name>/                 written by `predict` (nwb_v1former.nwb.write)
    model                           V1FormerModel: the checkpoint's digest and provenance
    insilico_tuning                 DynamicTable, one row per ROI (roi_id first)
    insilico_receptive_fields       DynamicTable, one row per ROI
    insilico_attention              DynamicTable, one row per (attention summary, behaviour)
```
A table is added only to predictions of the same checkpoint (same sha256), so it traces back to the
model the module describes, and a per-ROI table only names ROIs of those predictions. A table of the
same name is replaced. As `write_predictions` does, a copy of the file is changed, validated, fsynced
and renamed over it (a `.nwb.zarr` store swapped with it in one step): a crash leaves the file as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from hdmf.common import DynamicTable, VectorData

from nwb_v1former.atomic import atomic_output, in_place_target, require_swap
from nwb_v1former.errors import OutputExistsError, SessionError
from nwb_v1former.nwb.backends import GROUPS, ZARR, backend_of
from nwb_v1former.nwb.extension import NAMESPACE
from nwb_v1former.nwb.write import DEFAULT_NAME, predicted_rois, validate_module

ROI_KEY = "roi_id"


class Table(Protocol):
    """A named table: column name -> (description, (rows,) values); per-ROI tables start with roi_id."""

    name: str
    description: str
    columns: Mapping[str, tuple[str, np.ndarray]]


def _drop_earlier(path: Path, module: str, names: Sequence[str]) -> None:
    """Delete earlier tables `names` of the module from the copy; refuse to delete anything else."""
    with backend_of(path).root(path, "a") as handle:
        group = handle.get(f"processing/{module}")
        for name in names:
            if group is None or name not in group:
                continue
            if group[name].attrs.get("neurodata_type") != "DynamicTable":
                raise OutputExistsError(
                    f"/processing/{module}/{name} exists and is not a table of in-silico results; "
                    "nothing was written",
                    where=path,
                )
            del group[name]


def check_predictions(path: str | Path, checkpoint_sha256: str, name: str = DEFAULT_NAME) -> None:
    """`path` must hold /processing/<name> with predictions of the checkpoint of that sha256."""
    source = Path(path)
    backend = backend_of(source)
    if not backend.holds(source):
        raise SessionError("no such NWB file; give a file written by `nwb-v1former predict`", where=source)
    try:
        with backend.root(source) as handle:
            group = handle.get(f"processing/{name}")
            digests = [
                str(child.attrs.get("checkpoint_sha256"))
                for child in (group.values() if isinstance(group, GROUPS) else [])
                if child.attrs.get("namespace") == NAMESPACE
                and child.attrs.get("neurodata_type") == "V1FormerModel"
            ]
    except OSError:
        raise SessionError("not an NWB (HDF5) file; give a file written by `predict`", where=source) from None
    if not digests:
        raise SessionError(
            f"no nwb-v1former predictions in /processing/{name}; run `nwb-v1former predict` on it "
            "first (or give the module's --name)",
            where=source,
        )
    if digests[0] != checkpoint_sha256:
        raise SessionError(
            f"/processing/{name} holds predictions of checkpoint {digests[0][:12]}, the results "
            f"come from {checkpoint_sha256[:12]}; add them to predictions of the same checkpoint",
            where=source,
        )


def _dynamic_table(table: Table) -> DynamicTable:
    """The table as an hdmf DynamicTable (text columns as lists of str)."""
    columns = []
    for column, (description, values) in table.columns.items():
        values = np.asarray(values)
        data = values.tolist() if values.dtype.kind in "OUS" else values
        columns.append(VectorData(name=column, description=description, data=data))
    return DynamicTable(name=table.name, description=table.description, columns=columns)


def add_tables(
    path: str | Path, tables: Sequence[Table], *, checkpoint_sha256: str, name: str = DEFAULT_NAME
) -> list[str]:
    """Add `tables` to /processing/<name> of the predictions file `path` (in place, atomically).

    `checkpoint_sha256` is the digest of the checkpoint the results came from; it must be the one that
    made the predictions. Returns the tables' paths inside the file.
    """
    source = Path(path)
    check_predictions(source, checkpoint_sha256, name)
    backend, target = backend_of(source), in_place_target(source)
    if backend is ZARR:
        require_swap(target.parent)
    with atomic_output(target, overwrite=True) as temporary:
        backend.copy(source, temporary)
        _drop_earlier(temporary, name, [table.name for table in tables])
        with backend.io(temporary, "a") as io:
            nwbfile = io.read()
            module = nwbfile.processing[name]
            rois = set(predicted_rois(module))
            for table in tables:
                if ROI_KEY in table.columns:
                    unknown = sorted(set(np.asarray(table.columns[ROI_KEY][1]).tolist()) - rois)
                    if unknown:
                        raise SessionError(
                            f"table {table.name} names ROIs {unknown[:5]} that /processing/{name} "
                            "does not predict; use results of the readout that made these predictions",
                            where=source,
                        )
                module.add(_dynamic_table(table))
            io.write(nwbfile)
        validate_module(temporary, name, what="the tables", where=source)
    return [f"/processing/{name}/{table.name}" for table in tables]
