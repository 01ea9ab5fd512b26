"""`evaluate`: a checkpoint scored on any SOURCE, per session and per neuron.

Converted stores are scored as they are; NWB files, folders of them and dandisets are converted into a
scratch store (each file opened once), each read as training read it (`recorded_choices`), so the
trials keep the tiers they had when the model was fitted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nwb_v1former.atomic import scratch_folder
from nwb_v1former.data.store import SessionStore, is_store, open_stores
from nwb_v1former.device import pick_device
from nwb_v1former.errors import SessionError
from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.evaluation import SessionEvaluation, evaluate_session
from nwb_v1former.model.checkpoint import load_checkpoint, read_checkpoint
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.write import predictions_only_source
from nwb_v1former.pipeline.predict import recorded_choices
from nwb_v1former.precision import resolve_precision
from nwb_v1former.progress import QUIET, Reporter
from nwb_v1former.run_folder import checkpoint_file
from nwb_v1former.sources import local_sources, resolve_sources
from nwb_v1former.train.cache_lookup import matching_cache, run_cache_directory


def evaluate(
    checkpoint: str | Path,
    sources: list[str | Path],
    *,
    tier: str = "test",
    device: str | None = None,
    precision: str = "auto",
    cache_dir: str | Path | None = None,
    stream: bool = False,
    api_url: str | None = None,
    reporter: Reporter = QUIET,
) -> list[SessionEvaluation]:
    """Score `checkpoint` (a .ckpt or a run folder) on the `tier` trials of every session in `sources`
    (stores, NWB files, folders, dandisets; DANDI assets from `cache_dir` of the instance at `api_url`,
    or streamed), each with its own readout; notes and progress go to `reporter`. The core runs at
    `precision` (auto, bf16, float32), or is read from `checkpoint`'s run feature cache where that holds
    these very inputs' pieces, exact enough (nwb_v1former.train.cache_lookup)."""
    path = checkpoint_file(checkpoint)
    provenance = Provenance.of_checkpoint(read_checkpoint(path))
    stores = [Path(s) for s in sources if Path(s).is_dir() and is_store(Path(s))]
    others = [s for s in sources if Path(s) not in stores]
    for local in local_sources(others):
        derived = predictions_only_source(Path(local))
        if derived is not None:
            raise SessionError(
                f"a predictions-only file holds no recording to score; evaluate its source ({derived})",
                where=local,
            )
    chosen = pick_device(device)
    precision = resolve_precision(precision, chosen)
    model = load_checkpoint(path).to(chosen)
    cache_directory = run_cache_directory(path)

    def scored(store: SessionStore) -> SessionEvaluation:
        core = CoreSource(precision, matching_cache(cache_directory, model, store, precision))
        evaluation = evaluate_session(model, store, tier=tier, reporter=reporter, device=chosen, core=core)
        return dataclasses.replace(evaluation, inference=core.to_dict())

    results = [scored(store) for folder in stores for store in open_stores(folder)]
    if not others:
        return results
    resolved = resolve_sources(
        [str(s) for s in others],
        cache_dir=cache_dir,
        stream=stream,
        api_url=api_url,
        progress=reporter.bars,
        on_note=reporter.note,
    )
    with scratch_folder("evaluate") as scratch:
        for index, item in enumerate(resolved):
            choices = recorded_choices(provenance, item.file, None)
            for converted in convert(
                [item.session_input],
                scratch / str(index),
                choices=choices,
                progress=reporter.bars,
                on_skip=reporter.note,
            ):
                store = SessionStore(converted.folder)
                results.append(scored(store))
    return results
