"""Where a model's weights come from: saved in every checkpoint (`extra["provenance"]`) and config.yaml.

One frozen record for every origin (trained by pretrain / finetune, imported from the authors' run),
read back by predict, the report and fine-tuning, so nobody walks a dict with `.get()` chains.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nwb_v1former.config import check_known_keys


@dataclass(frozen=True)
class BaseCore:
    """The pretrained checkpoint whose core a fine-tuned model took: name, file digest, preset, data."""

    name: str
    sha256: str
    preset: str
    trained_on_simulated_data: bool = False
    training_data: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Provenance:
    """What made a checkpoint, and an optional `name` for it (predict records it; the file name otherwise).
    Training fills command ... fit_check (whether the run learned and converged, and why not); importing
    the authors' weights fills imported_from ... authors_best_corr. `training_data` holds one dict per
    session (its key and its source: path, or dandiset / version / asset)."""

    name: str | None = None
    command: str | None = None
    preset: str | None = None
    code_version: str | None = None
    trained_on_simulated_data: bool = False
    training_data: tuple[dict[str, Any], ...] = ()
    strategy: str | None = None
    base: BaseCore | None = None
    epoch: int | None = None
    validation_correlation: float | None = None
    evaluation: dict[str, Any] | None = None
    fit_check: dict[str, Any] | None = None  # train.fit_check.FitCheck.to_dict()
    imported_from: str | None = None
    model: str | None = None
    authors_epoch: int | None = None
    authors_best_corr: float | None = None

    @property
    def all_training_data(self) -> tuple[dict[str, Any], ...]:
        """The sessions behind these weights: this model's, then its base core's."""
        return self.training_data + (self.base.training_data if self.base else ())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint or YAML: fields left empty are left out."""
        values = dataclasses.asdict(self)
        values["training_data"] = list(values["training_data"])
        if self.base is not None:
            values["base"]["training_data"] = list(values["base"]["training_data"])
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Provenance:
        """Inverse of `to_dict`, also of the plain dicts earlier versions saved; unknown keys: an error."""
        values = dict(values or {})
        check_known_keys(cls, values, "provenance")
        base = values.pop("base", None)
        if base is not None:
            check_known_keys(BaseCore, base, "provenance.base")
            base = BaseCore(**{**base, "training_data": tuple(base.get("training_data", ()))})
        return cls(**{**values, "training_data": tuple(values.get("training_data", ())), "base": base})

    @classmethod
    def of_checkpoint(cls, payload: dict[str, Any]) -> Provenance:
        """The provenance of a raw checkpoint dict (see model.checkpoint.read_checkpoint)."""
        return cls.from_dict(payload["extra"].get("provenance"))
