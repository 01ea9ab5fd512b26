"""`pretrain` and `finetune`: sources in, a run folder out (see nwb_v1former.run_folder for its files).

Sources are converted sessions (store folders) or NWB files / folders / dandisets; the latter are
converted into RUN/data/ first. Under torchrun only the main process converts and writes; the others
wait for it. Both commands are one `train` call with a different way to build the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nwb_v1former import __version__
from nwb_v1former.analysis.report import write_report
from nwb_v1former.atomic import check_apart
from nwb_v1former.data.store import SessionStore, is_store, open_stores
from nwb_v1former.errors import ConfigError
from nwb_v1former.lock import exclusive
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.config import preset
from nwb_v1former.model.cores import core_family
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.nwb.choices import READER_DEFAULTS, ReaderChoices
from nwb_v1former.nwb.convert import convert
from nwb_v1former.progress import QUIET, Reporter
from nwb_v1former.run_folder import DATA, LAST, RunFolder
from nwb_v1former.sources import local_sources, resolve_sources
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Worker, distributed
from nwb_v1former.train.feature_cache import CacheConfig
from nwb_v1former.train.finetune import add_sessions, check_frames, load_base, model_for_finetune
from nwb_v1former.train.loop import FitResult, Trainer
from nwb_v1former.train.recipe import fit_recipe
from nwb_v1former.train.run_config import RunConfig, read_run_config
from nwb_v1former.train.sessions import training_sessions

SIMULATED_IDENTIFIER = "nwb-v1former-sim"


@dataclass(frozen=True)
class DandiOptions:
    """Where DANDI sources come from and go: download cache folder, streaming, API of the instance."""

    cache_dir: str | Path | None = None
    stream: bool = False
    api_url: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """How a training command runs, apart from what it trains: continue (`resume`) or replace
    (`overwrite`) the run folder, the device, the report at the end, DANDI access, the reader's choices
    for NWB sources, the frozen core's feature cache (None: run the core at every step) and how progress
    is told."""

    resume: bool = False
    overwrite: bool = False
    device: str | None = None
    report: bool = True
    dandi: DandiOptions = dataclasses.field(default_factory=DandiOptions)
    reader: ReaderChoices = READER_DEFAULTS
    feature_cache: CacheConfig | None = dataclasses.field(default_factory=CacheConfig)
    reporter: Reporter = QUIET
    given: frozenset[str] = frozenset()
    """TrainConfig fields the user set (on --resume each must match the run's own, but max_epochs)."""


def prepare_stores(
    sources: list[str | Path],
    run: RunFolder,
    *,
    reporter: Reporter,
    dandi: DandiOptions,
    reader: ReaderChoices = READER_DEFAULTS,
) -> list[SessionStore]:
    """Open store sources as they are; resolve the others (NWB files, folders, dandisets) and convert
    them into RUN/data/ (replacing an earlier one) with the reader's `choices`. Unusable DANDI sessions
    are skipped, one line each."""
    stores = [store for path in _store_paths(sources) for store in open_stores(path)]
    others = [source for source in sources if Path(source) not in _store_paths([source])]
    if others:
        resolved = resolve_sources(
            others, progress=reporter.bars, on_note=reporter.note, **dataclasses.asdict(dandi)
        )
        convert(
            [item.session_input for item in resolved],
            run / DATA,
            overwrite=True,
            choices=reader,
            progress=reporter.bars,
            on_skip=reporter.note,
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
    """Per session: its key, its file by name and sha256 or its DANDI asset (dandiset, version, asset
    path, id, digest), its NWB identifier, and the reader's choices it was converted with (so predict
    and evaluate read the file the same way); never a path on the machine that trained."""
    entries = []
    for store in stores:
        source = dict(store.meta.get("source", {}))
        path = source.pop("path", None)
        if path and "asset_path" not in source:  # stores converted before names were recorded
            source.setdefault("name", Path(path).name)
        if "reader_choices" in store.meta:
            source["reader_choices"] = store.meta["reader_choices"]
        entries.append({"session": store.key, **source})
    return entries


def _stores(
    worker: Worker, sources: list[str | Path], run: RunFolder, options: RunOptions
) -> list[SessionStore]:
    """Prepare the run folder and sessions on the main process; the others then open what it made."""
    if worker.is_main:
        run.prepare(resume=options.resume, overwrite=options.overwrite)
        if not options.resume:
            prepare_stores(
                sources, run, reporter=options.reporter, dandi=options.dandi, reader=options.reader
            )
    worker.barrier()
    if options.resume:
        return [SessionStore(folder) for folder in read_run_config(run).stores]
    stores = [store for path in _store_paths(sources) for store in open_stores(path)]
    return stores + (open_stores(run / DATA) if (run / DATA).is_dir() else [])


def _resumed(run: RunFolder, config: TrainConfig, given: frozenset[str]) -> tuple[RunConfig, TrainConfig]:
    """On --resume the run's own config.yaml decides; only max_epochs may be raised. A setting the user
    gave that differs from the run's is refused, never silently ignored."""
    saved = read_run_config(run)
    run.metrics()  # a damaged epoch log is one line now, not after an epoch of training
    for name in sorted(given - {"max_epochs"}):
        if getattr(config, name) != getattr(saved.train, name):
            option = "--" + name.replace("_", "-")
            raise ConfigError(
                f"--resume continues the run with its own settings, and it was trained with {option} "
                f"{getattr(saved.train, name)}, not {getattr(config, name)}; leave {option} out, or start a "
                "new run (another --out, or --overwrite)",
                where=run.path,
            )
    return saved, dataclasses.replace(saved.train, max_epochs=max(saved.train.max_epochs, config.max_epochs))


def _one_writer(run: RunFolder, worker: Worker) -> contextlib.AbstractContextManager:
    """The run folder's lock, held by the process that writes it (torchrun's main process)."""
    return exclusive(run.path, wait=False) if worker.is_main else contextlib.nullcontext()


BuildModel = Callable[[list[SessionStore]], tuple[V1Former, Provenance]]
"""Sessions -> the model to train and what it records of its origin (command, data and code filled in)."""


def train(
    command: str,
    build: BuildModel,
    sources: list[str | Path],
    out: str | Path,
    config: TrainConfig,
    options: RunOptions,
) -> FitResult:
    """Shared by pretrain and finetune: sessions, model (built or resumed), config.yaml, the fit.

    A new run's folder may not overlap a local source (starting over would delete it), nor may the
    feature cache's folder (it would be written into the source). `--resume` of a run that stopped before
    training began (no last.ckpt) starts it from the beginning when the sources are given again. The run
    folder has one writer from start to end: a second command on it (another run, a second --resume) is
    refused at once, naming the process that holds it.
    """
    run = RunFolder(out)
    here = local_sources(sources)
    if options.resume and sources and not (run / LAST).is_file():  # stopped before training began
        options.reporter.note(f"{run.path} holds nothing trained yet: the run starts from the beginning")
        options = dataclasses.replace(options, resume=False)
    if not options.resume:
        check_apart(run.path, here)
    if options.feature_cache and options.feature_cache.directory:
        check_apart(options.feature_cache.directory, here)
    with distributed(options.device) as worker, _one_writer(run, worker):
        stores = _stores(worker, sources, run, options)
        if options.resume:
            saved, config = _resumed(run, config, options.given)
            model, provenance = load_checkpoint(run / LAST), saved.provenance
        else:
            torch.manual_seed(config.seed)  # fresh heads (and a fresh core) start the same every run
            model, provenance = build(stores)
            provenance = dataclasses.replace(
                provenance,
                command=command,
                preset=model.config.preset,
                training_data=tuple(data_provenance(stores)),
                code_version=__version__,
            )
        sessions = training_sessions(stores, config, model.config.window)
        global_batch_size = config.batch_size * worker.world_size
        recipe = fit_recipe(config, sessions, global_batch_size)
        config = recipe.config
        if worker.is_main:
            for line in (recipe.describe(len(sessions), global_batch_size), *recipe.warnings):
                options.reporter.note(line)
        if worker.is_main and not options.resume:
            run_config = RunConfig(
                command=command,
                code_version=__version__,
                model=model.config,
                train=config,
                window=sessions[0].windows.window,
                stores=tuple(str(store.folder.resolve()) for store in stores),
                provenance=provenance,
                processes=worker.world_size,
                global_batch_size=global_batch_size,
                feature_cache=options.feature_cache,
            )
            run.write_config(run_config.to_dict())
        trainer = Trainer(
            model,
            sessions,
            config,
            run,
            worker=worker,
            provenance=provenance,
            reporter=options.reporter,
            feature_cache=options.feature_cache,
        )
        result = trainer.fit(resume=options.resume)
        if options.report and worker.is_main:
            write_report(run.path, device=worker.device)
        return result


def finetune(
    sources: list[str | Path],
    out: str | Path,
    *,
    base: str | Path = "tiny-sim",
    config: TrainConfig | None = None,
    options: RunOptions | None = None,
) -> FitResult:
    """Fresh readouts for `sources` on the core of `base` (checkpoint, `tiny-sim` or `viv1t-2025`).

    While the core is frozen (strategy readout, or gradual before it unfreezes) its output is computed
    once into `options.feature_cache` (see nwb_v1former.train.feature_cache).
    """
    config = config or TrainConfig(strategy="readout")
    if config.strategy == "scratch":
        raise ConfigError(
            "finetune strategies are readout, full and gradual; use `pretrain` to train from scratch"
        )

    def build(stores: list[SessionStore]) -> tuple[V1Former, Provenance]:
        base_model, parent = load_base(base)
        simulated_data = parent.trained_on_simulated_data or any(map(simulated, stores))
        provenance = Provenance(
            strategy=config.strategy, base=parent, trained_on_simulated_data=simulated_data
        )
        return model_for_finetune(base_model, stores, str(base)), provenance

    return train("finetune", build, sources, out, config, options or RunOptions())


def core_optimiser(model_preset: str) -> dict[str, float]:
    """TrainConfig fields (core_lr, core_weight_decay) the preset's core family trains with by default."""
    return core_family(preset(model_preset).family).core_optimiser


def pretrain(
    sources: list[str | Path],
    out: str | Path,
    *,
    model_preset: str = "small",
    config: TrainConfig | None = None,
    options: RunOptions | None = None,
) -> FitResult:
    """Core and readouts of a fresh `model_preset` model trained on all `sources` together.

    `config` None: the defaults, with the core's optimiser settings of the preset's family.
    """
    config = config or TrainConfig(**core_optimiser(model_preset))
    if config.strategy != "scratch":
        raise ConfigError(
            f"pretrain trains everything from scratch; strategy {config.strategy!r} is for finetune"
        )

    def build(stores: list[SessionStore]) -> tuple[V1Former, Provenance]:
        model_config = preset(model_preset)
        check_frames(model_config, model_preset)
        model = add_sessions(V1Former(model_config), stores)
        return model, Provenance(strategy="scratch", trained_on_simulated_data=any(map(simulated, stores)))

    return train("pretrain", build, sources, out, config, options or RunOptions())
