"""Score a fitted model on a tier of a converted session: per neuron and pooled, as DATA.md defines.

Each trial is predicted from its first tick, with nothing before it, as training sees it; a trial longer
than the model's window is cut by the window rule, each later piece with history from inside the trial.
Repeat-based figures (correlation to average, normalised correlation, noise ceiling) are given when
the tier repeats a stimulus, else None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nwb_v1former import metrics
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import SessionError
from nwb_v1former.inference.windows import predict_span
from nwb_v1former.model.model import V1Former
from nwb_v1former.plain import plain
from nwb_v1former.progress import QUIET, Reporter

SCORED_TIERS = ("test", "validation", "train")
"""The tiers a model can be scored on (`none` trials are used by nothing)."""


@dataclass(frozen=True)
class SessionEvaluation:
    """Metrics of one session on one tier; per-neuron arrays are (N,) in the store's ROI order;
    `inference`: the core's precision and where its output came from (CoreSource.to_dict), if known,
    recorded beside the metrics (never in `to_dict`, which holds the scores alone)."""

    key: str
    tier: str
    n_trials: int
    roi_ids: np.ndarray
    per_neuron: dict[str, np.ndarray | None]
    inference: dict[str, Any] | None = None

    def summary(self) -> dict[str, float | None]:
        """Mean over neurons of every metric (NaN neurons left out)."""
        return {
            name: None if values is None else plain(metrics.mean_over_neurons(values))
            for name, values in self.per_neuron.items()
        }

    def to_dict(self, *, neurons: bool = True) -> dict[str, Any]:
        """JSON-ready: the tier, trial count, pooled figures and (optionally) every neuron's values."""
        result: dict[str, Any] = {"tier": self.tier, "trials": self.n_trials, **self.summary()}
        if neurons:
            result["neurons"] = {
                "roi_id": self.roi_ids.tolist(),
                **{
                    name: None if values is None else plain(values)
                    for name, values in self.per_neuron.items()
                },
            }
        return result


def tier_trials(store: SessionStore, tier: str, skip: int = metrics.SKIP_FRAMES) -> np.ndarray:
    """Indices of the tier's trials long enough to score (more than `skip` ticks)."""
    trials = store.trials
    lengths = trials.stop_tick - trials.first_tick
    return np.flatnonzero((trials.tier == tier) & (lengths > skip))


def predict_trials(
    model: V1Former, store: SessionStore, indices: Iterable[int], key: str | None = None, **options
) -> list[np.ndarray]:
    """Predictions of whole trials, each (T_i, N) in the store's units."""
    trials = store.trials
    return [
        predict_span(model, store, key, int(trials.first_tick[i]), int(trials.stop_tick[i]), **options)
        for i in indices
    ]


def evaluate_session(
    model: V1Former,
    store: SessionStore,
    *,
    tier: str = "test",
    key: str | None = None,
    reporter: Reporter = QUIET,
    **options,
) -> SessionEvaluation:
    """Predict every scorable trial of `tier` (telling `reporter` how far it is) and compute the
    per-neuron metrics."""
    indices = scorable_trials(store, tier)
    told = reporter.loop(indices, what=f"{store.key}: scoring {tier} trials", unit="trial")
    return score_trials(store, indices, predict_trials(model, store, told, key, **options), tier, key)


def scorable_trials(store: SessionStore, tier: str) -> np.ndarray:
    """`tier_trials`, or one clear line when the tier has none to score."""
    indices = tier_trials(store, tier)
    if not len(indices):
        raise SessionError(
            f"no {tier} trial longer than {metrics.SKIP_FRAMES} ticks to evaluate on; "
            "choose another tier (--tier)",
            where=store.folder,
        )
    return indices


def score_trials(
    store: SessionStore, indices: np.ndarray, predictions: list[np.ndarray], tier: str, key: str | None = None
) -> SessionEvaluation:
    """The per-neuron metrics of `predictions` (one (T_i, N) array per trial of `indices`) on `tier`."""
    responses = [
        np.asarray(store.responses[store.trials.first_tick[i] : store.trials.stop_tick[i]]) for i in indices
    ]
    stimulus_ids = store.trials.stimulus_id[indices].tolist()
    per_neuron: dict[str, np.ndarray | None] = {
        "single_trial_correlation": metrics.single_trial_correlation(predictions, responses)
    }
    repeated = len(set(stimulus_ids)) < len(stimulus_ids)
    per_neuron["correlation_to_average"] = (
        metrics.correlation_to_average(predictions, responses, stimulus_ids) if repeated else None
    )
    per_neuron["normalized_correlation"] = (
        metrics.normalized_correlation(predictions, responses, stimulus_ids) if repeated else None
    )
    per_neuron["explainable_variance_explained"] = (
        metrics.explainable_variance_explained(predictions, responses, stimulus_ids) if repeated else None
    )
    per_neuron["noise_ceiling"] = metrics.noise_ceiling(responses, stimulus_ids) if repeated else None
    return SessionEvaluation(store.key if key is None else key, tier, len(indices), store.roi_ids, per_neuron)
