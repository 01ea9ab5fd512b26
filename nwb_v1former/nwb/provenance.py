"""What a prediction file says about its model: the V1FormerModel content and per-ROI scores.

Plain data here; `nwb_v1former.nwb.write` puts it into the file (ndx-v1former types, a DynamicTable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nwb_v1former import __version__
from nwb_v1former.nwb.extension import V1FormerModel
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
    training_dandisets: tuple[str, ...] = ()
    evaluation: dict[str, Any] | None = None
    checkpoint_provenance: dict[str, Any] | None = None

    def to_nwb(self) -> V1FormerModel:
        """The V1FormerModel object, named `model`."""
        optional = {
            "preset": self.preset,
            "training_data": list(self.training_data) or None,
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
