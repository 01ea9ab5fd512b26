"""`predict`: a checkpoint and an NWB session in; the model's predictions in an NWB file out.

The session is opened once: converted into a temporary store (the model's 30 Hz inputs), scored on its
held-out test trials when it has any, predicted trial by trial (nwb_v1former.inference.session_cut; the
scored trials' predictions are written as scored), and the predictions are streamed into a file of
their own (predictions-only or a full copy) or the source itself, with the model's provenance and the
trials' split (see nwb_v1former.nwb.write).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nwb_v1former.atomic import scratch_folder, write_failure
from nwb_v1former.data.store import SessionStore
from nwb_v1former.device import pick_device
from nwb_v1former.errors import ConfigError, OutputError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.evaluation import SessionEvaluation, predict_trials, score_trials, tier_trials
from nwb_v1former.inference.windows import check_session, predict_session
from nwb_v1former.metrics import SKIP_FRAMES
from nwb_v1former.model.checkpoint import CheckpointFile, open_checkpoint
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.nwb.choices import READER_DEFAULTS, ReaderChoices
from nwb_v1former.nwb.convert import session_key
from nwb_v1former.nwb.derived import DEFAULT_COPY
from nwb_v1former.nwb.discover import file_identifier
from nwb_v1former.nwb.plan import open_session
from nwb_v1former.nwb.provenance import ModelProvenance, RoiEvaluation
from nwb_v1former.nwb.read import MAX_NAN_FRACTION, write_store
from nwb_v1former.nwb.split_table import Split
from nwb_v1former.nwb.write import DEFAULT_NAME, WrittenPredictions, output_path, write_predictions
from nwb_v1former.precision import resolve_precision
from nwb_v1former.progress import Reporter
from nwb_v1former.run_folder import checkpoint_file
from nwb_v1former.train.cache_lookup import matching_cache, run_cache_directory

EVALUATION_TIER = "test"
METRIC_DESCRIPTIONS = {
    "single_trial_correlation": (
        f"Pearson correlation of prediction and response over all held-out trials (first {SKIP_FRAMES} "
        "ticks of each skipped)."
    ),
    "correlation_to_average": "Correlation of prediction and response averaged over repeats of each clip.",
    "normalized_correlation": "Correlation to average over the responses' repeat reliability (CCnorm).",
    "noise_ceiling": "Best single-trial correlation any model could reach, estimated from the repeats.",
}


@dataclass(frozen=True)
class PredictionResult:
    """What `predict` wrote, for which readout, and how well it scored on this session's test trials."""

    written: WrittenPredictions
    session: str
    evaluation: SessionEvaluation | None
    inference: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The core's precision and where its output came from (CoreSource.to_dict), scoring and writing."""

    def to_dict(self) -> dict[str, Any]:
        evaluation = None if self.evaluation is None else self.evaluation.to_dict(neurons=False)
        return {
            **self.written.to_dict(),
            "session": self.session,
            "evaluation": evaluation,
            "inference": self.inference,
        }


def _training_id(entry: Any) -> str:
    """A readable id of one training session, never a machine path: its DANDI asset, else its file's
    name (older checkpoints: the last part of their path), else its NWB identifier or key."""
    if not isinstance(entry, dict):
        return Path(str(entry)).name
    if entry.get("dandiset"):
        parts = (
            f"DANDI:{entry['dandiset']}",
            entry.get("version"),
            entry.get("asset_path") or Path(str(entry.get("path", ""))).name,
        )
        return "/".join(str(part) for part in parts if part)
    named = entry.get("name") or entry.get("path") or entry.get("source")
    return Path(str(named)).name if named else str(entry.get("identifier") or entry.get("session"))


def _dandiset(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not entry.get("dandiset"):
        return None
    version = entry.get("version")
    return f"DANDI:{entry['dandiset']}" + (f"/{version}" if version else "")


def _describe_training(simulated: bool, training: list[Any], dandisets: list[str]) -> str:
    if simulated:
        return (
            "Trained on simulated sessions (nwb-v1former's ground-truth simulator): these predictions show "
            "that the pipeline works, not how real neurons respond."
        )
    if not training:
        return "The checkpoint does not record what it was trained on."
    origin = f" from {', '.join(dandisets)}" if dandisets else ""
    return f"Trained on {len(training)} recorded session(s){origin}."


def recorded_choices(provenance: Provenance, source: Path, session: str | None) -> ReaderChoices:
    """The reader's choices training made for this file's session: the training session named
    `session`, else the one with the file's NWB identifier; the defaults when none is recorded, a
    ConfigError when several disagree."""
    entries = [e for e in provenance.all_training_data if isinstance(e, dict) and e.get("reader_choices")]
    if not entries:
        return READER_DEFAULTS
    if session is None:
        identifier = file_identifier(source)
        matches = [e["reader_choices"] for e in entries if e.get("identifier") == identifier]
    else:
        matches = [e["reader_choices"] for e in entries if e.get("session") == session]
    distinct = {ReaderChoices.from_dict(choices) for choices in matches}
    if len(distinct) > 1:
        raise ConfigError(
            f"the checkpoint was trained on this file ({source}) read in {len(distinct)} different ways; "
            "say which with --session (or --stimulus / --responses / --image-order / --split)"
        )
    return distinct.pop() if distinct else READER_DEFAULTS


def model_provenance(
    checkpoint: CheckpointFile,
    key: str,
    evaluation: SessionEvaluation | None,
    precision: str | None = None,
) -> ModelProvenance:
    """What the file records about the model, from the checkpoint (every provenance field optional),
    and the `precision` its core ran at for these predictions."""
    payload = checkpoint.payload
    provenance = Provenance.of_checkpoint(payload)
    training = list(provenance.all_training_data)
    dandisets = sorted({d for d in map(_dandiset, training) if d})
    simulated = provenance.trained_on_simulated_data
    scores = {
        "session": None if evaluation is None else {"key": key, **evaluation.to_dict(neurons=False)},
        "training": provenance.evaluation,
        "inference": None if precision is None else {"precision": precision},
    }
    scores = {name: value for name, value in scores.items() if value is not None}
    sessions = dict.fromkeys(
        (_training_id(entry), str(entry.get("sha256", "")) if isinstance(entry, dict) else "")
        for entry in training
    )
    fit_check = provenance.fit_check or {}
    return ModelProvenance(
        model_name=provenance.name or checkpoint.path.name,
        checkpoint_sha256=checkpoint.sha256,
        session_key=key,
        config=payload["config"],
        model_version=str(payload.get("code_version", "unknown")),
        preset=payload["config"].get("preset"),
        trained_on_simulated_data=simulated,
        training_data_description=_describe_training(simulated, training, dandisets),
        training_data=tuple(name for name, _ in sessions),
        training_data_sha256=tuple(digest for _, digest in sessions),
        training_dandisets=tuple(dandisets),
        evaluation=scores or None,
        checkpoint_provenance=None if provenance == Provenance() else _without_paths(provenance).to_dict(),
        learned=fit_check.get("learned"),
        fit_check_reasons=tuple(fit_check.get("reasons", ())),
    )


def _without_paths(provenance: Provenance) -> Provenance:
    """The checkpoint's provenance with each training session's machine path reduced to its file name
    (checkpoints saved before sessions were recorded by name + sha256 kept the path)."""

    def named(entries: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        kept = []
        for entry in entries:
            entry = dict(entry)
            path = entry.pop("path", None)
            if path and "asset_path" not in entry:
                entry.setdefault("name", Path(str(path)).name)
            kept.append(entry)
        return tuple(kept)

    base = provenance.base
    if base is not None:
        base = dataclasses.replace(base, training_data=named(base.training_data))
    return dataclasses.replace(provenance, training_data=named(provenance.training_data), base=base)


def session_split(store: SessionStore) -> Split:
    """The store's trials on the file's clock (a trial ends where its last tick does) and what made
    their tiers, for the predictions' split table."""
    trials, times = store.trials, np.asarray(store.times)
    return Split(
        start=times[trials.first_tick],
        stop=times[trials.stop_tick - 1] + 1 / TICK_RATE_HZ,
        tier=trials.tier,
        source_tier=trials.source_tier,
        stimulus_id=trials.stimulus_id,
        rule=str(store.meta.get("tiers", "not recorded")),
        option=str(store.meta.get("split", "auto")),
    )


def roi_evaluation(evaluation: SessionEvaluation) -> RoiEvaluation:
    """The per-ROI table's content: every metric the tier could score, with what it means."""
    metrics = {
        name: (METRIC_DESCRIPTIONS.get(name, name.replace("_", " ")), values)
        for name, values in evaluation.per_neuron.items()
        if values is not None
    }
    return RoiEvaluation(evaluation.tier, evaluation.n_trials, metrics)


def predict(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path | None = None,
    *,
    in_place: bool = False,
    copy: str = DEFAULT_COPY,
    name: str = DEFAULT_NAME,
    session: str | None = None,
    choices: ReaderChoices = READER_DEFAULTS,
    overwrite: bool = False,
    device: str | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> PredictionResult:
    """Predict every imaging frame of `source` with `checkpoint` and write the result to `out` (`copy`:
    predictions-only or full) or in place.

    `session` picks the checkpoint's readout (default: the session key `convert` gives the file);
    `choices` are the reader's options as for `convert`, each one not given taken from those training
    recorded for this session (`recorded_choices`). The temporary store lives in TMPDIR. The core runs
    at `precision` (auto, bf16, float32: nwb_v1former.precision); where `checkpoint` is a run's and its
    feature cache holds a piece of these very inputs, exact enough, the core's output is read from it.
    `progress`: bars on a terminal, else a line at least every minute (nwb_v1former.progress).
    """
    checkpoint, source = checkpoint_file(checkpoint), Path(source)
    output_path(source, out, in_place=in_place, name=name, overwrite=overwrite, copy=copy)
    reporter = Reporter.for_terminal(quiet=not progress)
    opened = open_checkpoint(checkpoint)  # read once: the weights used are the weights recorded
    choices = choices.merged(recorded_choices(Provenance.of_checkpoint(opened.payload), source, session))
    chosen = pick_device(device)
    precision = resolve_precision(precision, chosen)
    model = opened.model().to(chosen)
    with (
        scratch_folder("predict") as scratch,
        open_session(source, choices) as plan,
    ):
        reporter.note(f"predict: reading {source.name} ({plan.n_ticks} ticks, {plan.n_neurons} ROIs)")
        folder = scratch / session_key(plan.subject_id, plan.session_id, source, set())
        try:
            write_store(plan, folder, max_nan_fraction=MAX_NAN_FRACTION, progress=reporter.bars)
        except OSError as error:  # the scratch store, not --out: say where it lives
            failure = write_failure(folder, error)
            if failure is None:
                raise
            raise OutputError(
                f"{failure.problem} (predict's temporary store: set TMPDIR to another folder)",
                where=failure.where,
            ) from None
        store = SessionStore(folder)
        key = session or store.key
        try:
            check_session(model, store, key)
        except ConfigError as error:  # name the user's file, not the temporary store
            raise error.at(source) from None
        cache = matching_cache(run_cache_directory(checkpoint), model, store, precision)
        scoring, writing = CoreSource(precision, cache), CoreSource(precision, cache)
        scored = tier_trials(store, EVALUATION_TIER)
        evaluation, known = None, {}
        if len(scored):
            reporter.note(f"predict: scoring {len(scored)} held-out {EVALUATION_TIER} trials")
            told = reporter.loop(scored, what=f"{store.key}: scoring {EVALUATION_TIER} trials", unit="trial")
            predictions = predict_trials(model, store, told, key, device=chosen, core=scoring)
            known = dict(zip(scored.tolist(), predictions, strict=True))  # written as they are
            evaluation = score_trials(store, scored, predictions, EVALUATION_TIER, key)
        written = write_predictions(
            source,
            predict_session(model, store, key, known=known, device=chosen, core=writing),
            tick_times=np.asarray(store.times),
            roi_ids=store.roi_ids,
            model=model_provenance(opened, key, evaluation, precision),
            evaluation=None if evaluation is None else roi_evaluation(evaluation),
            split=session_split(store),
            out=out,
            in_place=in_place,
            copy=copy,
            name=name,
            responses=choices.responses,
            overwrite=overwrite,
            reporter=reporter,
            nwbfile=plan.nwbfile,
        )
    inference = {"scoring": scoring.to_dict(), "predictions": writing.to_dict()}
    return PredictionResult(written, key, evaluation, inference)
