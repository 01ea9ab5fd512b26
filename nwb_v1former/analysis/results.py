"""What every in-silico result carries: where it came from, and its table in a plain, NWB-ready form.

A `ResultTable` is a dict of named columns (description, (rows,) array), keyed by its first column
(`roi_id` for per-ROI results); `nwb_v1former.nwb.insilico` writes it as a DynamicTable, `to_dict`
as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former import __version__
from nwb_v1former.data.store import SessionStore
from nwb_v1former.model.checkpoint import CheckpointFile, open_checkpoint
from nwb_v1former.plain import plain


@dataclass(frozen=True)
class AnalysisProvenance:
    """The checkpoint (path and sha256), the session (the readout used, or the session whose data were
    analysed), the data (store folder and the store's source: NWB path, DANDI asset) and the precision
    the model's core ran at (bf16 or float32; nwb_v1former.precision)."""

    checkpoint: str
    checkpoint_sha256: str
    session: str
    data: str | None = None
    data_source: dict[str, Any] | None = None
    code_version: str = __version__
    precision: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        """One sentence naming the checkpoint and its digest, the session and the data, for descriptions."""
        data = f" on data {self.data}" if self.data else ""
        if self.data_source:
            data += f" (source {json.dumps(self.data_source, sort_keys=True)})"
        return (
            f"Computed by nwb-v1former {self.code_version} from checkpoint {Path(self.checkpoint).name} "
            f"(sha256 {self.checkpoint_sha256}), readout of session {self.session!r}{data}, core in "
            f"{self.precision}."
        )


def provenance(
    checkpoint: CheckpointFile | str | Path,
    session: str,
    store: SessionStore | None = None,
    precision: str = "float32",
) -> AnalysisProvenance:
    """Provenance of a result from `checkpoint` (the file as the model was read from it, or its path) for
    `session` (and `store`, when data were used), its core run at `precision`."""
    opened = checkpoint if isinstance(checkpoint, CheckpointFile) else open_checkpoint(checkpoint)
    return AnalysisProvenance(
        checkpoint=str(opened.path.resolve()),
        checkpoint_sha256=opened.sha256,
        session=session,
        data=None if store is None else str(store.folder.resolve()),
        data_source=None if store is None else dict(store.meta.get("source", {})),
        precision=precision,
    )


def finite_median(values: np.ndarray) -> float | None:
    """The median of the finite values, for a summary; None when there are none (JSON's null)."""
    finite = np.asarray(values)[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


@dataclass(frozen=True, eq=False)  # array columns: compare by identity
class ResultTable:
    """A named table: `columns` maps a column name to (description, (rows,) array); the first is the key
    (`roi_id` for per-ROI tables)."""

    name: str
    description: str
    columns: dict[str, tuple[str, np.ndarray]]

    def __post_init__(self) -> None:
        lengths = {name: len(values) for name, (_, values) in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"table {self.name}: columns differ in length {lengths}")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))[1])

    def column(self, name: str) -> np.ndarray:
        return self.columns[name][1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, description, column descriptions and values (NaN as None)."""
        return {
            "name": self.name,
            "description": self.description,
            "columns": {name: description for name, (description, _) in self.columns.items()},
            "rows": {name: plain(values) for name, (_, values) in self.columns.items()},
        }
