"""A run's final score: its best weights on held-out trials, written to evaluation.json and into
best.ckpt's provenance, so the checkpoint carries the figures it earned."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.evaluation import predict_trials, score_trials, tier_trials
from nwb_v1former.model.checkpoint import read_checkpoint, save_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.precision import compute_precision
from nwb_v1former.run_folder import BEST, CONFIG, EVALUATION, RunFolder
from nwb_v1former.train.cache_lookup import matching_cache, run_cache_directory
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.fit_check import FitCheck
from nwb_v1former.train.run_config import read_run_config
from nwb_v1former.train.sessions import TrainingSession, evaluation_tier


def score_best(
    model: V1Former,
    sessions: list[TrainingSession],
    run: RunFolder,
    best_epoch: int,
    check: FitCheck,
    device: torch.device,
) -> dict[str, Any]:
    """Score `model` (holding best.ckpt's weights) on each session's held-out tier (test, else
    validation); write RUN/evaluation.json and the summary and `check` (did the run learn) into
    best.ckpt; return what was written.

    The core runs at the run's precision (its --precision: bf16 where the hardware runs it fast, else
    float32), and its output is read from the run's feature cache where that holds the trial's pieces
    and is exact enough (nwb_v1former.train.cache_lookup): the figures are those `predict` and
    `evaluate` reproduce from best.ckpt at that precision.
    """
    precision = _run_precision(run, device)
    directory = run_cache_directory(run / BEST)
    scores, inference = {}, {}
    for session in sessions:
        tier = evaluation_tier(session.store)
        indices = tier_trials(session.store, tier)
        core = CoreSource(precision, matching_cache(directory, model, session.store, precision))
        predictions = predict_trials(model, session.store, indices, device=device, core=core)
        scores[session.key] = score_trials(session.store, indices, predictions, tier).to_dict()
        inference[session.key] = core.to_dict()
    summary = {
        key: {name: value for name, value in values.items() if name != "neurons"}
        for key, values in scores.items()
    }
    evaluation = {
        "checkpoint": BEST,
        "best_epoch": best_epoch,
        "fit_check": check.to_dict(),
        "summary": summary,
        "sessions": scores,
        "inference": inference,
    }
    run.write_json(EVALUATION, evaluation)
    payload = read_checkpoint(run / BEST)
    evaluated = dataclasses.replace(
        Provenance.of_checkpoint(payload), evaluation=summary, fit_check=check.to_dict()
    )
    payload["extra"]["provenance"] = evaluated.to_dict()
    save_checkpoint(model, run / BEST, extra=payload["extra"])
    return evaluation


def _run_precision(run: RunFolder, device: torch.device) -> str:
    """The run's --precision (its config.yaml) resolved on `device`; the default where there is none."""
    requested = read_run_config(run).train.precision if (run / CONFIG).is_file() else TrainConfig.precision
    return compute_precision(requested, device)
