"""The run folder a training command writes, with public names a lab can rely on.

```
RUN/
  config.yaml        the resolved configuration (model, training, data, command)
  metrics.jsonl      one JSON line per finished epoch
  last.ckpt          model + optimiser state after the last finished epoch (what --resume reads)
  best.ckpt          the weights with the best validation single-trial correlation so far
  evaluation.json    per session and per neuron metrics of best.ckpt on held-out trials
  data/              sessions converted for this run (when NWB files were given)
  report/, insilico/ what `report` and `insilico` write into the run
  feature-cache/     the frozen core's output, computed once (fine-tuning with the core frozen; see
                     nwb_v1former.train.feature_cache); keyed by what it depends on, so a rerun or
                     --overwrite reuses what still holds; safe to delete
```
Every file is written atomically (temporary sibling, fsync, rename): a run killed at any moment
leaves each file either complete or absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from nwb_v1former.atomic import atomic_output, folder_kind, visible_entries
from nwb_v1former.errors import CheckpointError, ConfigError, OutputExistsError

CONFIG, METRICS, LAST, BEST, EVALUATION, DATA, FEATURE_CACHE = (
    "config.yaml",
    "metrics.jsonl",
    "last.ckpt",
    "best.ckpt",
    "evaluation.json",
    "data",
    "feature-cache",
)
REPORT = "report"
INSILICO = "insilico"
"""The run's sub-folder of in-silico results (nwb-v1former insilico writes there by default)."""
RUN_ENTRIES = frozenset((CONFIG, METRICS, LAST, BEST, EVALUATION, DATA, FEATURE_CACHE, REPORT, INSILICO))
"""Every name a run folder holds (besides dot-files: partial writes, locks)."""


def foreign_entries(folder: Path) -> list[str]:
    """The names in `folder` that no run writes (dot-files aside), sorted."""
    return sorted(entry.name for entry in visible_entries(folder) if entry.name not in RUN_ENTRIES)


RUN = folder_kind("a run folder (config.yaml, checkpoints, ...)", lambda folder: not foreign_entries(folder))
"""A folder holding nothing a run does not write (an empty one included)."""


def checkpoint_file(checkpoint: str | Path) -> Path:
    """The file a CHECKPOINT argument names, in every command: a .ckpt file, or a run folder (also
    written RUN/best) meaning its best.ckpt; anything else is refused in one line."""
    path = Path(checkpoint)
    for candidate in (path, path.with_name(path.name + ".ckpt"), path / BEST):
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"no such checkpoint file; give a .ckpt file or a run folder holding {BEST}", where=path
    )


EVALUATION_FIELDS = {"best_epoch": int, "sessions": dict}
"""What every evaluation.json holds; one without them is damaged."""


class RunFolder:
    """Paths and atomic writers of one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def prepare(self, *, resume: bool, overwrite: bool) -> None:
        """Create the folder; refuse a started or foreign one unless resuming (or overwriting a run).

        A run is started once it has a checkpoint (last.ckpt is saved as training begins). What a start
        that failed before it left (config.yaml, data/) is replaced by the next plain run, as
        `--overwrite` replaces a run; a folder holding anything a run does not write is never replaced.
        """
        if resume:
            if not (self / LAST).is_file():
                raise ConfigError(
                    f"nothing to resume (no {LAST}: the run stopped before it started training); run "
                    "the same command with its SOURCES to start it from the beginning",
                    where=self.path,
                )
            return
        if self.path.exists() and not self.path.is_dir():
            raise OutputExistsError(f"{self.path} is a file, not a run folder; choose another --out")
        foreign = foreign_entries(self.path) if self.path.is_dir() else []
        if foreign:
            raise OutputExistsError(
                f"{self.path} holds {foreign[0]!r}, which no run writes, so it is not replaced; "
                "choose another --out (an empty or new folder)"
            )
        if not overwrite and ((self / LAST).exists() or (self / BEST).exists()):
            raise OutputExistsError(
                f"{self.path} already holds a run; pass --resume to continue it or --overwrite to start over"
            )
        for name in (CONFIG, METRICS, LAST, BEST, EVALUATION):
            (self / name).unlink(missing_ok=True)
        shutil.rmtree(self / DATA, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_text(self, name: str, text: str) -> Path:
        """Write a small text file atomically."""
        with atomic_output(self / name, overwrite=True) as temporary:
            temporary.write_text(text)
        return self / name

    def write_config(self, config: dict[str, Any]) -> Path:
        return self.write_text(CONFIG, yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        """config.yaml as a dict; one line naming it when it is not one (a damaged run folder)."""
        try:
            values = yaml.safe_load((self / CONFIG).read_text())
        except (OSError, yaml.YAMLError) as error:
            raise self.damaged(CONFIG, f"{type(error).__name__}: {error}".splitlines()[0]) from None
        if not isinstance(values, dict):
            raise self.damaged(CONFIG, f"it holds a {type(values).__name__}, not a mapping")
        return values

    def damaged(self, name: str, why: str) -> ConfigError:
        """The error for one of the run's own files that cannot be used."""
        return ConfigError(
            f"{name} cannot be used ({why}); the folder is damaged: restore the file, or start over with "
            "--overwrite",
            where=self.path,
        )

    def read_json(self, name: str, fields: dict[str, type]) -> dict[str, Any]:
        """A JSON file of the run's as a dict holding `fields` (name -> type); one line naming the file
        when it is not (a damaged run folder)."""
        try:
            values = json.loads((self / name).read_text())
        except (OSError, ValueError) as error:
            raise self.damaged(name, f"{type(error).__name__}: {error}".splitlines()[0]) from None
        if not isinstance(values, dict):
            raise self.damaged(name, f"it holds a {type(values).__name__}, not an object")
        for field, kind in fields.items():
            if not isinstance(values.get(field), kind):
                raise self.damaged(name, f"its {field!r} is not a {kind.__name__}")
        return values

    def write_json(self, name: str, values: dict[str, Any]) -> Path:
        return self.write_text(name, json.dumps(values, indent=2) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        """The epochs logged so far, in order."""
        path = self / METRICS
        if not path.is_file():
            return []
        rows = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
                raise self.damaged(METRICS, f"line {number} is not an epoch's JSON record")
            rows.append(row)
        return rows

    def append_metrics(self, row: dict[str, Any], *, keep_epochs_below: int) -> None:
        """Add one epoch's line, dropping lines of epochs >= `keep_epochs_below` left by a killed run.

        The whole file is rewritten atomically, so a kill never leaves a torn line.
        """
        rows = [old for old in self.metrics() if old["epoch"] < keep_epochs_below] + [row]
        self.write_text(METRICS, "".join(json.dumps(r) + "\n" for r in rows))
