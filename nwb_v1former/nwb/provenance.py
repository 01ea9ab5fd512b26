"""What a prediction file says about its model: the V1FormerModel content and per-ROI scores.

Plain data here; `nwb_v1former.nwb.write` puts it into the file (ndx-v1former types, a DynamicTable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nwb_v1former import __version__
from nwb_v1former.nwb.extension import PredictionSource, V1FormerModel
from nwb_v1former.plain import plain


@dataclass(frozen=True)
class ModelProvenance:
    """Which model made the predictions: what the file's V1FormerModel records (see ndx-v1former)."""

    model_name: str
    checkpoint_sha256: str
    session_key: str
    config: dict[str, Any]
    model_version: str
    preset: str | None = None
    trained_on_simulated_data: bool = False
    training_data_description: str = "not recorded in the checkpoint"
    training_data: tuple[str, ...] = ()
    training_data_sha256: tuple[str, ...] = ()
    training_dandisets: tuple[str, ...] = ()
    evaluation: dict[str, Any] | None = None
    checkpoint_provenance: dict[str, Any] | None = None
    learned: bool | None = None
    fit_check_reasons: tuple[str, ...] = ()

    def to_nwb(self) -> V1FormerModel:
        """The V1FormerModel object, named `model`."""
        optional = {
            "preset": self.preset,
            "training_data": list(self.training_data) or None,
            "training_data_sha256": (
                list(self.training_data_sha256) if any(self.training_data_sha256) else None
            ),
            "learned": self.learned,
            "fit_check_reasons": list(self.fit_check_reasons) or None,
            "training_dandisets": list(self.training_dandisets) or None,
            "evaluation": None if self.evaluation is None else to_json(self.evaluation),
            "checkpoint_provenance": (
                None if self.checkpoint_provenance is None else to_json(self.checkpoint_provenance)
            ),
        }
        return V1FormerModel(
            name="model",
            description=f"ViV1T model {self.model_name!r} (readout of session {self.session_key!r})",
            model_name=self.model_name,
            model_version=self.model_version,
            software=f"nwb-v1former {__version__}",
            checkpoint_sha256=self.checkpoint_sha256,
            session_key=self.session_key,
            trained_on_simulated_data=self.trained_on_simulated_data,
            training_data_description=self.training_data_description,
            config=to_json(self.config),
            **{key: value for key, value in optional.items() if value is not None},
        )


@dataclass(frozen=True)
class SourceFile:
    """The NWB file predictions were made for, as a file of their own records it (PredictionSource):
    its name, identifier, NWBFile object id, sha256 (HDF5) and what the new file holds of it (`copy`)."""

    file_name: str
    identifier: str
    file_object_id: str
    copy: str
    sha256: str | None = None

    def to_nwb(self) -> PredictionSource:
        """The PredictionSource object, named `source`."""
        optional = {"sha256": self.sha256} if self.sha256 else {}
        return PredictionSource(
            name="source",
            file_name=self.file_name,
            identifier=self.identifier,
            file_object_id=self.file_object_id,
            copy=self.copy,
            **optional,
        )


@dataclass(frozen=True)
class RoiEvaluation:
    """Per-ROI metrics on held-out trials: `metrics` maps a name to (description, (N,) values).

    Values are in the predictions' column order; NaN marks a ROI the metric cannot score.
    """

    tier: str
    n_trials: int
    metrics: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)


def to_json(value: Any) -> str:
    """Plain JSON (NaN and infinity as null), keys sorted, so any reader can parse it."""
    return json.dumps(plain(value), sort_keys=True)
