"""`compare`: model families trained from scratch on the same sessions and scored side by side.

```
DIR/
  comparison.json   the table: settings, sessions, one row per model (figures below); written atomically
  data/             the sessions converted once (when NWB sources are given), shared by every model
  <model>/          each model's run folder, as `pretrain` writes it (best.ckpt, evaluation.json, ...)
  report/           the comparison's report (`report DIR`; written at the end unless report=False)
```

Every model gets the same sessions, split (tiers, and the same seeded `train_fraction` of the training
trials), seed, windows and recipe (one TrainConfig; only the core's learning rate and weight decay are
its family's, as its authors trained it: model/cores.py), and the same budget: `max_epochs` with early
stopping, or `budget_minutes` of training (epochs with their validation) each, spent in whole epochs:
after the first epoch the run is resumed, again and again, for half the epochs that seem left at the
recent pace, until less than half an epoch is (a resumed run computes what an uninterrupted one
would; on a busy machine, where epochs slow down, one extrapolation overshot 3 minutes by 4). Each is
scored by its best weights on the same held-out trials (the test tier, else validation). A later `compare`
into the same DIR with the same sources and settings keeps the models already there and trains only
the new ones; other sources or settings are refused (a table must compare like with like).

Figures per model (means over sessions, each session a mean over its neurons): normalised correlation
(CCnorm over the held-out repeats), single-trial correlation, correlation to average, the fraction of
the noise ceiling reached (single-trial correlation / ceiling: the simulator's true ceiling where the
session is simulated, else the one estimated from repeats), parameters, training seconds, and trials/s:
whole 300-frame trials predicted one at a time without autograd on the training device (the fastest of 5).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former import __version__
from nwb_v1former.analysis.comparison_report import COMPARISON, load_comparison
from nwb_v1former.analysis.report import write_report
from nwb_v1former.analysis.report_data import ground_truth
from nwb_v1former.atomic import check_apart, visible_entries
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError, OutputExistsError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.config import PRESETS
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import DATASET
from nwb_v1former.pipeline.train import RunOptions, core_optimiser, prepare_stores, pretrain, simulated
from nwb_v1former.run_folder import BEST, DATA, EVALUATION, EVALUATION_FIELDS, LAST, REPORT, RUN, RunFolder
from nwb_v1former.sources import local_sources
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Worker, distributed

RECENT_EPOCHS = 3
"""A time budget is paced by the mean time of this many latest epochs."""
TRIAL_FRAMES = round(10 * TICK_RATE_HZ)
"""Frames of the trial timed for trials/s: a Sensorium 2023 trial (10 s at 30 Hz)."""
PAPER_TABLE = {
    "ln": (0.247, 37.2),
    "fcnn": (0.551, 34.7),
    "dwiseneuro": (0.660, 0.45),
    "viv1t": (0.696, 10.41),
}
"""The ViV1T paper's comparison on Sensorium 2023 (its V-2025 plotting script): per model, the
(most likely) normalised correlation and trials/s on unstated hardware."""


@dataclass(frozen=True)
class ComparisonSettings:
    """What must be the same for every model of one table: models in order, recipe, budget, sources."""

    models: tuple[str, ...]
    train: TrainConfig
    budget_minutes: float | None
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [name for name in self.models if name not in PRESETS]
        if unknown:
            raise ConfigError(f"unknown model {unknown[0]!r} in --models; choose from {', '.join(PRESETS)}")
        if not self.models or len(set(self.models)) != len(self.models):
            raise ConfigError("--models needs at least one model, each named once (e.g. small,fcnn,ln)")
        if self.budget_minutes is not None and not 0 < self.budget_minutes < math.inf:
            raise ConfigError(
                f"--budget is minutes of training per model, above 0; got {self.budget_minutes}"
            )
        if self.train.strategy != "scratch":
            raise ConfigError("compare trains every model from scratch (training strategy 'scratch')")

    def recipe(self) -> dict[str, Any]:
        """What every model shares (not which models): recorded, and checked on a later compare."""
        return {
            "train": self.train.to_dict(),
            "budget_minutes": self.budget_minutes,
            "sources": list(self.sources),
        }


def source_names(sources: list[str | Path]) -> tuple[str, ...]:
    """The sources as recorded: local paths made absolute, DANDI references as given."""
    local = {str(path) for path in local_sources(sources)}
    return tuple(str(Path(s).resolve()) if str(s) in local else str(s) for s in sources)


def compare(
    sources: list[str | Path],
    out: str | Path,
    *,
    models: tuple[str, ...] = ("small", "fcnn", "ln"),
    config: TrainConfig | None = None,
    budget_minutes: float | None = None,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Train each of `models` (preset names) from scratch on `sources` into `out`; the comparison table.

    Returns what comparison.json holds. Refused before any training: an unknown model, and an `out`
    holding a comparison of other sources or settings (unless `options.overwrite`, which starts over).
    Of `options`, `resume` and `feature_cache` do not apply: a later compare into the same `out` keeps
    the models already trained, and every model trains its core.
    """
    options = options or RunOptions()
    settings = ComparisonSettings(
        tuple(models), config or TrainConfig(), budget_minutes, source_names(sources)
    )
    folder = RunFolder(out)
    check_apart(folder.path, local_sources(sources))
    with distributed(options.device) as worker:  # under torchrun one group for every model
        main = worker.is_main  # decides, converts and writes; the others open what it made
        previous = worker.from_main(_previous(folder, settings, options.overwrite) if main else None)
        if previous is None:
            stores = worker.from_main(_prepare_sources(folder, sources, settings, options) if main else None)
        else:
            stores = [session["store"] for session in previous["sessions"]]
        stores = [SessionStore(store) for store in stores]
        rows = {} if previous is None else dict(previous["models"])
        for number, name in enumerate(settings.models, 1):
            if name in rows:
                options.reporter.labelled(name).note(f"kept from the earlier comparison in {folder.path}")
                continue
            reporter = options.reporter.labelled(name)  # every line of this model's training names it
            reporter.note(f"model {number} of {len(settings.models)}: training from scratch")
            labelled = dataclasses.replace(options, reporter=reporter)
            rows[name] = _train_model(name, folder, stores, settings, labelled, worker)
            table = _table(settings, stores, rows)
            if worker.is_main:
                folder.write_json(COMPARISON, table)  # each model lands as it finishes
            row = table["models"][name]
            score = "n/a" if row["normalized_correlation"] is None else f"{row['normalized_correlation']:.3f}"
            reporter.note(
                f"done: {row['epochs']} epochs in {row['training_seconds']:.0f} s, normalised correlation "
                f"{score}"
            )
        table = _table(settings, stores, rows)
        if options.report and worker.is_main:
            write_report(folder.path, device=worker.device)
        worker.barrier()
        return table


def _prepare_sources(
    folder: RunFolder, sources: list[str | Path], settings: ComparisonSettings, options: RunOptions
) -> list[str]:
    """A fresh comparison folder, its sessions (converted into it where they are not stores yet) and
    its table without models, so that from then on the same command continues it: the main process's
    work; every process then opens the store folders it returns."""
    _prepare(folder, options.overwrite)
    stores = prepare_stores(
        sources, folder, reporter=options.reporter, dandi=options.dandi, reader=options.reader
    )
    folder.write_json(COMPARISON, _table(settings, stores, {}))
    return [str(store.folder) for store in stores]


def _previous(folder: RunFolder, settings: ComparisonSettings, overwrite: bool) -> dict[str, Any] | None:
    """The comparison already in `folder` when it can be extended; None to start afresh."""
    path = folder / COMPARISON
    if overwrite or not path.is_file():
        return None
    previous = load_comparison(folder.path)
    sessions = previous["sessions"]
    if not isinstance(previous["settings"].get("sources"), list) or not all(
        isinstance(session, dict) and isinstance(session.get("store"), str) for session in sessions
    ):
        raise folder.damaged(COMPARISON, "its settings or sessions are not what compare writes")
    if previous["settings"]["sources"] != list(settings.sources):
        theirs = ", ".join(previous["settings"]["sources"])
        raise ConfigError(
            f"{folder.path} holds a comparison on other sessions ({theirs}); "
            "every model of a table is trained on the same sessions: use another --out, or --overwrite"
        )
    if {k: v for k, v in previous["settings"].items() if k != "models"} != settings.recipe():
        raise ConfigError(
            f"{folder.path} holds a comparison trained with other settings (split, seed, epochs or budget); "
            "every model of a table gets the same: repeat them, use another --out, or --overwrite"
        )
    return previous


def _prepare(folder: RunFolder, overwrite: bool) -> None:
    """Create `folder`, or clear the comparison in it (only with `overwrite`); never anything else."""
    path = folder.path
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} is a file, not a comparison folder; choose another --out")
    ours = {COMPARISON, DATA, REPORT, *PRESETS}
    kinds = {DATA: DATASET, **dict.fromkeys(PRESETS, RUN)}  # report/ is judged by write_report
    present = sorted(entry.name for entry in (visible_entries(path) if path.is_dir() else ()))
    foreign = [
        name
        for name in present
        if name not in ours or (name in kinds and not kinds[name].recognise(path / name))
    ]
    if foreign:
        raise OutputExistsError(
            f"{path} holds {foreign[0]!r}, which compare does not write; choose another --out"
        )
    if present and not overwrite:
        raise OutputExistsError(f"{path} already holds a comparison; pass --overwrite to start over")
    for name in present:
        entry = path / name
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)


def _train_model(
    name: str,
    folder: RunFolder,
    stores: list[SessionStore],
    settings: ComparisonSettings,
    options: RunOptions,
    worker: Worker,
) -> dict[str, Any]:
    """Train one model within the budget, then its row: scores, size, time and inference speed (the
    main process's, in every process: under torchrun they train together and agree on every epoch)."""
    run = RunFolder(folder / name)
    sources = [store.folder for store in stores]
    train, budget = settings.train, settings.budget_minutes
    fresh = RunOptions(
        overwrite=True, device=options.device, report=False, feature_cache=None, reporter=options.reporter
    )
    resumed = dataclasses.replace(fresh, resume=True, overwrite=False)
    train = dataclasses.replace(train, **core_optimiser(name))
    first = dataclasses.replace(train, max_epochs=1) if budget is not None else train
    started = (run / LAST).is_file()  # by a compare that was interrupted: go on from its last epoch
    if started:
        options.reporter.note(f"continuing the run in {run.path} from its last finished epoch")
    start = resumed if started else fresh
    result = pretrain(sources, run.path, model_preset=name, config=first, options=start)
    while budget is not None and not result.stopped_early and result.epochs < train.max_epochs:
        seconds = [row["seconds"] for row in run.metrics()]
        left = (60 * budget - sum(seconds)) / np.mean(seconds[-RECENT_EPOCHS:])  # epochs at the recent pace
        left = worker.from_main(left)  # the main process's clock decides for all
        if left < 0.5:
            break
        target = min(train.max_epochs, result.epochs + math.ceil(left / 2))
        more = dataclasses.replace(train, max_epochs=target)
        result = pretrain(sources, run.path, model_preset=name, config=more, options=resumed)
    if not worker.is_main:
        return worker.from_main(None)
    model = load_checkpoint(run / BEST).to(worker.device)
    epochs = run.metrics()
    return worker.from_main(
        {
            "preset": name,
            "family": model.config.family,
            "parameters": sum(p.numel() for p in model.parameters()),
            "core_parameters": sum(p.numel() for p in model.core.parameters()),
            "epochs": len(epochs),
            "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
            "training_seconds": round(sum(row["seconds"] for row in epochs), 2),
            "core_lr": train.core_lr,
            "core_weight_decay": train.core_weight_decay,
            "trials_per_second": inference_rate(model, next(iter(model.sessions))),
            "sessions": _session_scores(stores, run),
        }
    )


def _session_scores(stores: list[SessionStore], run: RunFolder) -> dict[str, dict[str, Any]]:
    """Per session: held-out tier and trials, the evaluation's means, and the fraction of the ceiling."""
    evaluation = run.read_json(EVALUATION, EVALUATION_FIELDS)
    scores = {}
    for store in stores:
        session = evaluation["sessions"][store.key]
        summary = {k: v for k, v in session.items() if k != "neurons"}
        truth = ground_truth(store)
        if truth is not None:
            ceiling, source = truth.noise_ceiling, "simulator"
        elif session["neurons"]["noise_ceiling"] is not None:
            ceiling, source = np.array(session["neurons"]["noise_ceiling"], dtype=float), "repeats"
        else:
            ceiling, source = None, None
        correlation = np.array(session["neurons"]["single_trial_correlation"], dtype=float)
        summary["ceiling_source"] = source
        summary["fraction_of_ceiling"] = (
            None if ceiling is None else fraction_of_ceiling(correlation, ceiling)
        )
        scores[store.key] = summary
    return scores


def fraction_of_ceiling(correlation: np.ndarray, ceiling: np.ndarray) -> float:
    """Mean single-trial correlation over mean noise ceiling, over neurons scored in both; (N,), (N,)."""
    both = np.isfinite(correlation) & np.isfinite(ceiling)
    return float(np.mean(correlation[both]) / max(np.mean(ceiling[both]), 1e-8))


def inference_rate(model: V1Former, session: str, *, frames: int = TRIAL_FRAMES, repeats: int = 5) -> float:
    """Trials per second: one (1, 1, frames, H, W) trial at a time, no autograd, after a warm-up trial.

    Inputs are fixed random values (the cost does not depend on them). The rate is that of the fastest of
    `repeats` trials: on a machine shared with other work the others measure the contention, not the model.
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    video = torch.randn(1, 1, frames, *model.config.frame_shape, generator=generator).to(device)
    behavior = torch.randn(1, 2, frames, generator=generator).to(device)
    model.eval()
    fastest = float("inf")
    with torch.inference_mode():
        for _ in range(repeats + 1):
            started = time.perf_counter()
            model(video, behavior, behavior, session=session)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            fastest = min(fastest, time.perf_counter() - started)
    return round(1.0 / fastest, 3)


def _table(settings: ComparisonSettings, stores: list[SessionStore], rows: dict[str, Any]) -> dict[str, Any]:
    """comparison.json: settings, sessions, and per model its per-session scores and their means."""
    models = {}
    for name, row in rows.items():
        means = {}
        for metric in (
            "normalized_correlation",
            "single_trial_correlation",
            "correlation_to_average",
            "fraction_of_ceiling",
        ):
            values = [s[metric] for s in row["sessions"].values() if s.get(metric) is not None]
            means[metric] = float(np.mean(values)) if len(values) == len(row["sessions"]) else None
        models[name] = {**row, **means}
    return {
        "code_version": __version__,
        "settings": {"models": list(rows), **settings.recipe()},
        "trained_on_simulated_data": any(map(simulated, stores)),
        "sessions": [
            {"key": s.key, "store": str(s.folder.resolve()), "neurons": s.n_neurons, "ticks": s.n_ticks}
            for s in stores
        ],
        "trial_frames": TRIAL_FRAMES,
        "torch_threads": torch.get_num_threads(),
        "models": models,
        "paper": {
            name: {"normalized_correlation": c, "trials_per_second": r}
            for name, (c, r) in PAPER_TABLE.items()
        },
    }
