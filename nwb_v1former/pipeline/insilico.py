"""In-silico experiments as jobs: a checkpoint (and a converted session) in, a folder of results out.

The checkpoint may be a file, `RUN/best` or a run folder; results then go to RUN/insilico/ unless `out`
says otherwise, where `nwb-v1former report RUN` shows them.

```
DIR/
  tuning.json              provenance, config, summary and the per-ROI table (NaN as null)
  tuning.npz               every array of the result (responses to each grating, ...)
  tuning.png               figure for the report
  receptive_fields.*       the same for receptive fields (maps in the .npz)
  attention.*              the same for attention and behaviour (per-frame series in the .npz)
```
Each file is written atomically; existing ones are replaced only with `overwrite`, and only when they
are that experiment's results (`result_kind`), never a folder or a file of another format. With `nwb`,
the table also goes into that predictions file (see nwb_v1former.nwb.insilico).
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former.analysis import insilico_figures as figures
from nwb_v1former.analysis.attention import (
    BEHAVIORS,
    SUMMARIES,
    AttentionConfig,
    AttentionResult,
    attention_behavior,
)
from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, session_states
from nwb_v1former.analysis.receptive_fields import NoiseConfig, ReceptiveFieldResult, map_receptive_fields
from nwb_v1former.analysis.report import INSILICO
from nwb_v1former.analysis.results import AnalysisProvenance, provenance
from nwb_v1former.analysis.tuning import GratingConfig, TuningResult, measure_tuning
from nwb_v1former.atomic import OutputKind, atomic_output, check_writable, scratch_folder
from nwb_v1former.data.store import SessionStore, is_store, open_stores
from nwb_v1former.device import pick_device
from nwb_v1former.errors import ConfigError
from nwb_v1former.model.checkpoint import CheckpointFile, open_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.insilico import add_tables, check_predictions
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.plain import plain
from nwb_v1former.precision import core_autocast, resolve_precision
from nwb_v1former.run_folder import CONFIG, checkpoint_file
from nwb_v1former.sources import resolve_sources

Result = TuningResult | ReceptiveFieldResult | AttentionResult
FILES = ("json", "npz", "png")
"""The files each experiment writes, OUT/<analysis>.<suffix>."""


@dataclass(frozen=True)
class InsilicoOutput:
    """What one experiment wrote: its files, its summary, where it came from, its tables in NWB."""

    analysis: str
    files: dict[str, Path]
    summary: dict[str, Any]
    config: dict[str, Any]
    provenance: AnalysisProvenance
    nwb_tables: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "files": {kind: str(path) for kind, path in self.files.items()},
            "summary": self.summary,
            "provenance": self.provenance.to_dict(),
            "nwb_tables": self.nwb_tables,
        }


@contextlib.contextmanager
def session_store(data: str | Path, session: str | None, *, progress: bool = False) -> Iterator[SessionStore]:
    """DATA as a converted session, like every SOURCE: a store (or a folder of them) as it is; an NWB
    file, a folder of them or a dandiset converted into a scratch store that lives as long as the block."""
    if Path(str(data)).is_dir() and is_store(Path(str(data))):
        yield _one_store(data, session)
        return
    resolved = resolve_sources([str(data)], progress=progress)
    with scratch_folder("insilico") as scratch:
        store_folder = scratch / "store"
        convert([item.session_input for item in resolved], store_folder, progress=progress)
        yield _one_store(store_folder, session, shown_as=data)


def _one_store(data: str | Path, session: str | None, shown_as: str | Path | None = None) -> SessionStore:
    """The converted session in `data`: its only one, else the one named `session`."""
    data, stores = shown_as or data, open_stores(data)
    if len(stores) == 1:
        return stores[0]
    keys = ", ".join(store.key for store in stores)
    chosen = [store for store in stores if store.key == session]
    if not chosen:
        raise ConfigError(f"{data} holds several sessions ({keys}); choose one with --session")
    return chosen[0]


def choose_session(model: V1Former, session: str | None, store: SessionStore | None) -> str:
    """The readout to use: `session`, else the store's own, else the checkpoint's only one."""
    if session is not None:
        return session
    if store is not None and store.key in model.sessions:
        return store.key
    if len(model.sessions) == 1:
        return next(iter(model.sessions))
    raise ConfigError(
        f"the checkpoint has readouts for {len(model.sessions)} sessions ({', '.join(model.sessions)}); "
        "choose one with --session"
    )


def finish_experiment(
    analysis: str,
    result: Result,
    arrays: dict[str, np.ndarray],
    draw: Callable[[Path], Path],
    out: Path,
    options: ExperimentOptions,
) -> InsilicoOutput:
    """Write OUT/<analysis>.json, .npz and .png and the NWB table, all or none of them.

    The files are staged as temporaries; the table goes into the NWB file (itself atomic, and where a
    table can still be refused, e.g. for ROIs the predictions lack); only then are the files renamed.
    """
    table = result.table()
    details = {
        "analysis": analysis,
        "provenance": result.provenance.to_dict(),
        "config": result.config.to_dict(),
        "summary": result.summary(),
    }
    paths = {suffix: out / f"{analysis}.{suffix}" for suffix in FILES}
    created = not out.exists()
    try:
        with contextlib.ExitStack() as staged:
            staging = {
                suffix: staged.enter_context(
                    atomic_output(path, overwrite=options.overwrite, kind=result_kind(analysis))
                )
                for suffix, path in paths.items()
            }
            staging["json"].write_text(
                json.dumps(plain({**details, "table": table.to_dict()}), indent=2) + "\n"
            )
            with open(staging["npz"], "wb") as handle:
                np.savez_compressed(handle, **arrays)
            draw(staging["png"])
            sha = result.provenance.checkpoint_sha256
            nwb = options.nwb
            tables = [] if nwb is None else add_tables(nwb, [table], checkpoint_sha256=sha, name=options.name)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return InsilicoOutput(
        analysis, paths, plain(result.summary()), plain(details["config"]), result.provenance, tables
    )


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


_FORMATS: dict[str, Callable[[Path], bool]] = {
    "json": lambda path: True,  # judged by the result it holds
    "npz": zipfile.is_zipfile,
    "png": _is_png,
}


def _holds_result(path: Path, analysis: str) -> bool:
    """Whether `path` is the JSON result of `analysis` this tool wrote."""
    try:
        details = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(details, dict) and details.get("analysis") == analysis and "provenance" in details


def result_kind(analysis: str) -> OutputKind:
    """What `--overwrite` may replace at OUT/<analysis>.json, .npz and .png: a file of that format beside
    the JSON result of `analysis` this tool wrote (the three are written together); never a folder, a
    link or a file of another format that happens to have the name."""

    def recognise(path: Path) -> bool:
        suffix = path.suffix.removeprefix(".")
        if suffix not in _FORMATS or not path.is_file() or path.is_symlink():
            return False
        return _holds_result(path.with_suffix(".json"), analysis) and _FORMATS[suffix](path)

    return OutputKind(
        f"an `insilico` {analysis} result (a file of its format beside {analysis}.json)", recognise
    )


def resolve_paths(checkpoint: str | Path, out: str | Path | None) -> tuple[Path, Path]:
    """The checkpoint file (`RUN/best` and run folders name RUN/best.ckpt) and the results folder:
    `out`, else RUN/insilico when the checkpoint belongs to a run."""
    path = checkpoint_file(checkpoint)
    if out is not None:
        return path, Path(out)
    if (path.parent / CONFIG).is_file():
        return path, path.parent / INSILICO
    raise ConfigError(f"{checkpoint} is not in a run folder; say where the results go with --out")


def _check_outputs(out: Path, stem: str, checkpoint: CheckpointFile, options: ExperimentOptions) -> None:
    """Refuse before any work: a result file exists without `overwrite` or is not an earlier result, or
    `nwb` lacks the checkpoint's predictions."""
    for suffix in FILES:
        check_writable(out / f"{stem}.{suffix}", options.overwrite, result_kind(stem))
    if options.nwb is not None:
        check_predictions(options.nwb, checkpoint.sha256, options.name)


@dataclass(frozen=True)
class ExperimentOptions:
    """How an experiment runs and where its table goes, the same for every experiment: the readout
    (`session`), the predictions file to add the table to (`nwb`, its processing module `name`), the
    device and the core's precision (auto, bf16, float32: nwb_v1former.precision), whether earlier
    results are replaced, and progress bars."""

    session: str | None = None
    nwb: str | Path | None = None
    name: str = DEFAULT_NAME
    device: str | None = None
    overwrite: bool = False
    progress: bool = False
    precision: str = "auto"


@dataclass(frozen=True)
class Experiment:
    """What every experiment starts from: the checkpoint file, the results folder, the model, (when
    DATA was given) the session whose behaviour or trials it uses, and the core's resolved precision."""

    checkpoint: CheckpointFile
    out: Path
    model: V1Former
    store: SessionStore | None
    precision: str

    def provenance(self, session: str, store: SessionStore | None = None) -> AnalysisProvenance:
        """The result's provenance: this checkpoint, `session`, `store` (when data were used), precision."""
        return provenance(self.checkpoint, session, store, self.precision)


@contextlib.contextmanager
def open_experiment(
    stem: str,
    checkpoint: str | Path,
    out: str | Path | None,
    data: str | Path | None,
    options: ExperimentOptions,
) -> Iterator[Experiment]:
    """Checks before any work (results writable, predictions of this checkpoint in `options.nwb`), then
    the model and DATA's session; the experiment runs inside, its core at the chosen precision."""
    path, out = resolve_paths(checkpoint, out)
    opened = open_checkpoint(path)  # read once: the results' provenance names the weights used
    _check_outputs(out, stem, opened, options)
    device = pick_device(options.device)
    precision = resolve_precision(options.precision, device)
    model = opened.model().to(device)
    with contextlib.ExitStack() as stack:
        store = None
        if data is not None:
            store = stack.enter_context(session_store(data, options.session, progress=options.progress))
        stack.enter_context(core_autocast(device, precision))
        yield Experiment(opened, out, model, store, precision)


def behaviour_states(store: SessionStore | None) -> tuple[BehaviorState, ...]:
    return DEFAULT_STATES if store is None else session_states(store)


def run_tuning(
    checkpoint: str | Path,
    out: str | Path | None = None,
    *,
    session: str | None = None,
    data: str | Path | None = None,
    config: GratingConfig | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Drifting-grating tuning of every ROI of a readout, still and running (the session's own behaviour
    values when `data` is given), into `out`/tuning.*."""
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment("tuning", checkpoint, out, data, options) as run:
        key = choose_session(run.model, session, run.store)
        result = measure_tuning(
            run.model,
            key,
            run.provenance(key, run.store),
            config=config,
            states=behaviour_states(run.store),
            progress=progress,
        )
    arrays = {
        "roi_ids": result.roi_ids,
        "responses": result.responses,
        "baseline": result.baseline,
        "directions_deg": result.config.directions_deg,
        "periods_px": np.asarray(result.config.periods_px),
        "temporal_hz": np.asarray(result.config.temporal_hz),
        "states": np.array([state.name for state in result.states]),
        **{name: values for name, (_, values) in result.table().columns.items() if name != "roi_id"},
    }
    draw = partial(figures.tuning_figure, result)
    return finish_experiment("tuning", result, arrays, draw, run.out, options)


def run_receptive_fields(
    checkpoint: str | Path,
    out: str | Path | None = None,
    *,
    session: str | None = None,
    data: str | Path | None = None,
    roi_ids: list[int] | None = None,
    config: NoiseConfig | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """Gradient receptive fields of ROIs `roi_ids` (default: all) of a readout, into `out`/receptive_fields.*

    `data` (the session) sets the behaviour: its median pupil size, not running.
    """
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment("receptive_fields", checkpoint, out, data, options) as run:
        key = choose_session(run.model, session, run.store)
        result = map_receptive_fields(
            run.model,
            key,
            run.provenance(key, run.store),
            config=config,
            state=behaviour_states(run.store)[0],
            roi_ids=None if roi_ids is None else np.asarray(roi_ids, np.int64),
            progress=progress,
        )
    arrays = {
        "roi_ids": result.roi_ids,
        "maps": result.maps,
        "center": result.center,
        "radius_px": result.radius_px,
        "contrast": result.contrast,
    }
    draw = partial(figures.receptive_field_figure, result)
    return finish_experiment("receptive_fields", result, arrays, draw, run.out, options)


def run_attention(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    session: str | None = None,
    config: AttentionConfig | None = None,
    nwb: str | Path | None = None,
    name: str = DEFAULT_NAME,
    device: str | None = None,
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> InsilicoOutput:
    """The core's attention on a session's held-out trials against its behaviour, into `out`/attention.*.

    Only the core is used, so any checkpoint can be analysed on any converted session.
    """
    options = ExperimentOptions(session, nwb, name, device, overwrite, progress, precision)
    with open_experiment("attention", checkpoint, out, data, options) as run:
        store = run.store
        if session is not None and store.key != session:
            raise ConfigError(f"{data} holds session {store.key!r}, not {session!r}")
        result = attention_behavior(
            run.model, store, run.provenance(store.key, store), config=config, progress=progress
        )
    arrays = {
        **result.frames,
        "r": result.r,
        "p_value": result.p_value,
        "null_abs_95": result.null_abs_95,
        "summaries": np.array(list(SUMMARIES)),
        "behaviors": np.array(list(BEHAVIORS)),
    }
    draw = partial(figures.attention_figure, result)
    return finish_experiment("attention", result, arrays, draw, run.out, options)
