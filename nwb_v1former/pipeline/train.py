"""`pretrain` and `finetune`: sources in, a run folder out (see nwb_v1former.train.run for its files).

Sources are converted sessions (store folders) or NWB files / folders; NWB files are converted into
RUN/data/ first. Under torchrun only the main process converts and writes; the others wait for it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nwb_v1former import __version__
from nwb_v1former.analysis.report import write_report
from nwb_v1former.atomic import check_apart
from nwb_v1former.data.store import SessionStore, open_stores
from nwb_v1former.errors import ConfigError
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.config import preset
from nwb_v1former.model.cores import core_family
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import convert
from nwb_v1former.sources import local_sources, resolve_sources
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Distributed, distributed
from nwb_v1former.train.feature_cache import CacheConfig
from nwb_v1former.train.finetune import add_sessions, check_frames, load_base, model_for_finetune
from nwb_v1former.train.loop import FitResult, Trainer, training_sessions
from nwb_v1former.train.run import DATA, LAST, RunFolder

SIMULATED_IDENTIFIER = "nwb-v1former-sim"
IN_RUN_FOLDER = CacheConfig()
"""The default feature cache: float16, in RUN/feature-cache."""


@dataclass(frozen=True)
class SourceOptions:
    """Where DANDI sources come from and go: cache folder, streaming, API of the instance."""

    cache_dir: str | Path | None = None
    stream: bool = False
    api_url: str | None = None


def is_store(source: Path) -> bool:
    """A converted session, or a folder of them (what `convert` writes)."""
    return (source / "meta.json").is_file() or any(source.glob("*/meta.json"))


def prepare_stores(
    sources: list[str | Path], run: RunFolder, *, progress: bool, fetch: SourceOptions
) -> list[SessionStore]:
    """Open store sources as they are; resolve the others (NWB files, folders, dandisets) and convert
    them into RUN/data/ (replacing an earlier one). Unusable DANDI sessions are skipped, one line each."""
    stores = [store for path in _store_paths(sources) for store in open_stores(path)]
    others = [source for source in sources if Path(source) not in _store_paths([source])]
    if others:
        resolved = resolve_sources(others, progress=progress, **dataclasses.asdict(fetch))
        convert(
            [item.session_input for item in resolved],
            run / DATA,
            overwrite=True,
            progress=progress,
            on_skip=lambda line: print(line, file=sys.stderr),
        )
        stores += open_stores(run / DATA)
    return stores


def _store_paths(sources: list[str | Path]) -> list[Path]:
    """The sources that are converted sessions (or folders of them)."""
    return [Path(source) for source in sources if Path(source).is_dir() and is_store(Path(source))]


def simulated(store: SessionStore) -> bool:
    """Whether the session came from nwb-v1former's simulator (its NWB identifier says so)."""
    return str(store.meta.get("source", {}).get("identifier", "")).startswith(SIMULATED_IDENTIFIER)


def data_provenance(stores: list[SessionStore]) -> list[dict[str, Any]]:
    """Per session: its key and where it came from (path, or dandiset / version / asset)."""
    return [{"session": store.key, **store.meta.get("source", {})} for store in stores]


def _stores(
    place: Distributed,
    sources: list[str | Path],
    run: RunFolder,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    fetch: SourceOptions,
) -> list[SessionStore]:
    """Prepare the run folder and sessions on the main process; the others then open what it made."""
    if place.is_main:
        run.prepare(resume=resume, overwrite=overwrite)
        if not resume:
            prepare_stores(sources, run, progress=progress, fetch=fetch)
    place.barrier()
    if resume:
        return [SessionStore(folder) for folder in run.read_config()["data"]["stores"]]
    stores = [store for path in _store_paths(sources) for store in open_stores(path)]
    return stores + (open_stores(run / DATA) if (run / DATA).is_dir() else [])


def _plain(config: CacheConfig) -> dict[str, Any]:
    """The cache settings as config.yaml keeps them (paths as text)."""
    return {"directory": None if config.directory is None else str(config.directory), "dtype": config.dtype}


def _resumed_config(run: RunFolder, config: TrainConfig) -> TrainConfig:
    """On --resume the run's own config.yaml decides; only max_epochs may be raised."""
    saved = TrainConfig.from_dict(run.read_config()["train"])
    return TrainConfig.from_dict({**saved.to_dict(), "max_epochs": max(saved.max_epochs, config.max_epochs)})


BuildModel = Callable[[list[SessionStore]], tuple[V1Former, dict[str, Any]]]


def _train(
    command: str,
    build: BuildModel,
    sources: list[str | Path],
    out: str | Path,
    config: TrainConfig,
    *,
    resume: bool,
    overwrite: bool,
    device: str | None,
    progress: bool,
    fetch: SourceOptions,
    report: bool,
    feature_cache: CacheConfig | None = None,
) -> FitResult:
    """Shared by pretrain and finetune: sessions, model (built or resumed), config.yaml, the fit.

    A new run's folder may not overlap a local source (starting over would delete it).
    """
    run = RunFolder(out)
    if not resume:
        check_apart(run.path, local_sources(sources))
    with distributed(device) as place:
        stores = _stores(
            place, sources, run, resume=resume, overwrite=overwrite, progress=progress, fetch=fetch
        )
        if resume:
            config = _resumed_config(run, config)
            model, provenance = load_checkpoint(run / LAST), run.read_config()["provenance"]
        else:
            torch.manual_seed(config.seed)  # fresh heads (and a fresh core) start the same every run
            model, provenance = build(stores)
            provenance = {
                "command": command,
                "preset": model.config.preset,
                **provenance,
                "training_data": data_provenance(stores),
                "code_version": __version__,
            }
        sessions = training_sessions(stores, config)
        if place.is_main and not resume:
            run.write_config(
                {
                    "command": command,
                    "code_version": __version__,
                    "model": model.config.to_dict(),
                    "train": config.to_dict(),
                    "window": sessions[0].windows.window,
                    "processes": place.world_size,
                    "global_batch_size": config.batch_size * place.world_size,
                    "feature_cache": None if feature_cache is None else _plain(feature_cache),
                    "data": {"stores": [str(store.folder.resolve()) for store in stores]},
                    "provenance": provenance,
                }
            )
        trainer = Trainer(
            model,
            sessions,
            config,
            run,
            place=place,
            provenance=provenance,
            progress=progress,
            feature_cache=feature_cache,
        )
        result = trainer.fit(resume=resume)
        if report and place.is_main:
            write_report(run.path)
        return result


def finetune(
    sources: list[str | Path],
    out: str | Path,
    *,
    base: str | Path = "tiny-sim",
    config: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    fetch: SourceOptions | None = None,
    report: bool = True,
    feature_cache: CacheConfig | None = IN_RUN_FOLDER,
) -> FitResult:
    """Fresh readouts for `sources` on the core of `base` (checkpoint, `tiny-sim` or `viv1t-2025`).

    While the core is frozen (strategy readout, or gradual before it unfreezes) its output is computed
    once into `feature_cache` (see nwb_v1former.train.feature_cache); None runs the core every step.
    """
    config = config or TrainConfig(strategy="readout")
    if config.strategy == "scratch":
        raise ConfigError(
            "finetune strategies are readout, full and gradual; use `pretrain` to train from scratch"
        )

    def build(stores: list[SessionStore]) -> tuple[V1Former, dict[str, Any]]:
        base_model, parent = load_base(base)
        simulated_data = parent["trained_on_simulated_data"] or any(map(simulated, stores))
        provenance = {
            "strategy": config.strategy,
            "base": parent,
            "trained_on_simulated_data": simulated_data,
        }
        return model_for_finetune(base_model, stores, str(base)), provenance

    return _train(
        "finetune",
        build,
        sources,
        out,
        config,
        resume=resume,
        overwrite=overwrite,
        device=device,
        progress=progress,
        fetch=fetch or SourceOptions(),
        report=report,
        feature_cache=feature_cache,
    )


def core_optimiser(model_preset: str) -> dict[str, float]:
    """TrainConfig fields (core_lr, core_weight_decay) the preset's core family trains with by default."""
    return core_family(preset(model_preset).family).core_optimiser


def pretrain(
    sources: list[str | Path],
    out: str | Path,
    *,
    model_preset: str = "small",
    config: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    fetch: SourceOptions | None = None,
    report: bool = True,
) -> FitResult:
    """Core and readouts of a fresh `model_preset` model trained on all `sources` together.

    `config` None: the defaults, with the core's optimiser settings of the preset's family.
    """
    config = config or TrainConfig(**core_optimiser(model_preset))
    if config.strategy != "scratch":
        raise ConfigError(
            f"pretrain trains everything from scratch; strategy {config.strategy!r} is for finetune"
        )

    def build(stores: list[SessionStore]) -> tuple[V1Former, dict[str, Any]]:
        model_config = preset(model_preset)
        check_frames(model_config, model_preset)
        model = add_sessions(V1Former(model_config), stores)
        return model, {"trained_on_simulated_data": any(map(simulated, stores))}

    return _train(
        "pretrain",
        build,
        sources,
        out,
        config,
        resume=resume,
        overwrite=overwrite,
        device=device,
        progress=progress,
        fetch=fetch or SourceOptions(),
        report=report,
    )
