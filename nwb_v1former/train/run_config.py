"""A run's config.yaml as one frozen record: what was trained, how, on what, and where the weights came from.

Written once when a run starts and read back by --resume and the report; the resolved window is
written, never `null`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nwb_v1former.config import check_known_keys
from nwb_v1former.errors import V1FormerError
from nwb_v1former.model.config import ModelConfig
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.run_folder import CONFIG, RunFolder
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.feature_cache import CacheConfig


@dataclass(frozen=True)
class RunConfig:
    """config.yaml: the command, the model and training configs, the resolved window, the processes and
    global batch, the feature cache (None: off), the sessions' store folders, and the provenance."""

    command: str
    code_version: str
    model: ModelConfig
    train: TrainConfig
    window: int
    stores: tuple[str, ...]
    provenance: Provenance
    processes: int = 1
    global_batch_size: int = 1
    feature_cache: CacheConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        cache = self.feature_cache
        cache_dict = (
            None
            if cache is None
            else {"directory": cache.directory and str(cache.directory), "dtype": cache.dtype}
        )
        return {
            "command": self.command,
            "code_version": self.code_version,
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "window": self.window,
            "processes": self.processes,
            "global_batch_size": self.global_batch_size,
            "feature_cache": cache_dict,
            "data": {"stores": list(self.stores)},
            "provenance": self.provenance.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        values = dict(values)
        stores = values.pop("data", {}).get("stores", [])
        check_known_keys(cls, values, "run")
        cache = values.pop("feature_cache", None)
        return cls(
            **{
                **values,
                "model": ModelConfig.from_dict(values["model"]),
                "train": TrainConfig.from_dict(values["train"]),
                "stores": tuple(stores),
                "provenance": Provenance.from_dict(values.get("provenance")),
                "feature_cache": None
                if cache is None
                else CacheConfig(cache["directory"] and Path(cache["directory"]), cache["dtype"]),
            }
        )


def read_run_config(run: RunFolder) -> RunConfig:
    """The run's config.yaml as a RunConfig; one line naming the file when it cannot be one."""
    values = run.read_config()
    try:
        return RunConfig.from_dict(values)
    except (KeyError, TypeError, ValueError, AttributeError, V1FormerError) as error:
        raise run.damaged(CONFIG, f"{type(error).__name__}: {error}") from None
