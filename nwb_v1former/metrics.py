"""Response-prediction metrics, in one place for the simulator, training, evaluation and the report.

Numpy only (no torch), so evaluation and the report import it cheaply. Conventions of every trial-level
metric here:

- `predictions` and `responses` are sequences of per-trial arrays, trial i of shape (T_i, N): frames by
  neurons (a (K, T, N) array works too); prediction i is aligned frame by frame with response i.
- The first `skip` frames of every trial (`SKIP_FRAMES` = 50, the competition's burn-in) are dropped
  before anything is computed.
- Results are per neuron, (N,) float64. The population figure the competition reports is the mean over
  neurons, `mean_over_neurons(values)`, which leaves out NaN (unscorable) neurons.
- Repeat-based metrics (correlation to average, CCnorm, FEVE) use only the stimuli shown at least twice.
  Trials are grouped by `stimulus_ids` (groups in order of first appearance); a group is cut to its
  shortest trial, keeping the frames right after the skip, so that frame t means the same time since
  stimulus onset in every repeat.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

EPS = 1e-8
SKIP_FRAMES = 50

Trials = Sequence[np.ndarray]


def correlation_per_neuron(prediction: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Pearson correlation over time for each neuron; (T, N), (T, N) -> (N,).

    As the Sensorium competition computes it: population statistics (ddof 0) and eps 1e-8 in the
    denominator, so a constant trace scores 0. A trace holding NaN or infinity (a broken model) stays
    NaN: it is unscorable, never a correlation of 0.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    response = np.asarray(response, dtype=np.float64)
    if prediction.shape != response.shape or prediction.ndim != 2:
        raise ValueError(
            f"expected two (T, N) arrays of one shape, got {prediction.shape} and {response.shape}"
        )
    p = prediction - prediction.mean(axis=0)
    r = response - response.mean(axis=0)
    covariance = (p * r).mean(axis=0)
    return covariance / (p.std(axis=0) * r.std(axis=0) + EPS)


def mean_over_neurons(values: np.ndarray) -> float:
    """The population figure of a per-neuron metric: the mean over neurons, NaN neurons left out.

    values: (N,) -> float; NaN when no neuron could be scored.
    """
    values = np.asarray(values, dtype=np.float64)
    scored = values[~np.isnan(values)]
    return float(scored.mean()) if scored.size else float("nan")


def single_trial_correlation(
    predictions: Trials, responses: Trials, *, skip: int = SKIP_FRAMES
) -> np.ndarray:
    """Single-trial correlation, the competition's ranking metric; K trials of (T_i, N) -> (N,).

    The first `skip` frames of every trial are dropped, the trials are concatenated along time and the
    Pearson correlation is taken per neuron (`correlation_per_neuron`). The ranking figure is
    `single_trial_correlation(...).mean()`.
    """
    predictions, responses = _trials(predictions, responses, skip)
    return correlation_per_neuron(np.concatenate(predictions), np.concatenate(responses))


def correlation_to_average(
    predictions: Trials, responses: Trials, stimulus_ids: Sequence[Hashable], *, skip: int = SKIP_FRAMES
) -> np.ndarray:
    """Correlation between the repeat-averaged prediction and response; K trials of (T_i, N) -> (N,).

    For every stimulus shown at least twice, response and prediction are averaged over its repeats
    ((R_s, T_s, N) -> (T_s, N)); the averages are concatenated over stimuli and correlated per neuron
    (`correlation_per_neuron`). Raises ValueError when no stimulus is repeated.
    """
    groups = _repeat_groups(predictions, responses, stimulus_ids, skip)
    mean_prediction = np.concatenate([prediction.mean(axis=0) for prediction, _ in groups])
    mean_response = np.concatenate([response.mean(axis=0) for _, response in groups])
    return correlation_per_neuron(mean_prediction, mean_response)


def normalized_correlation(
    predictions: Trials, responses: Trials, stimulus_ids: Sequence[Hashable], *, skip: int = SKIP_FRAMES
) -> np.ndarray:
    """CCnorm (Schoppe et al. 2016) over the repeated stimuli, pooled by concatenation; K trials -> (N,).

    ybar and yhat are the response and the prediction averaged over the R_s repeats of each repeated
    stimulus s, concatenated over stimuli into T frames. Per neuron, with every variance and covariance
    taken over those T frames with ddof 0 (the ddof cancels in the ratio):
        CCnorm = Cov(ybar, yhat) / (sqrt(SP * Var(yhat)) + 1e-8)
    The signal power SP is Schoppe's (Var(sum_r y_r) - sum_r Var(y_r)) / (R (R - 1)), written so that it
    pools stimuli with different repeat counts:
        SP = Var(ybar) - mean_t v_t / R_t + sum_s sum_r D_{s,r}^2 / (R_s (R_s - 1)) / T^2
    with v_t the across-repeat variance (ddof 1) at frame t, R_t the repeat count of its stimulus and
    D_{s,r} = sum over the frames of s of (y_{s,r,t} - ybar_t). For one stimulus this equals Schoppe's
    formula exactly. For several stimuli with equal R, Schoppe's formula on the concatenated repeats
    would add the cross-stimulus products D_{s,r} D_{s',r}, which depend on the arbitrary pairing of
    repeat r of one stimulus with repeat r of another and have expectation zero; they are left out.
    With trials independent and repeats alike, SP is an unbiased estimate of the variance over time of
    the noise-free signal, temporally correlated noise included.

    Neurons with SP <= 0 (no measurable signal) get NaN; a constant prediction scores 0, as in
    `correlation_per_neuron`. Raises ValueError when no stimulus is repeated.
    """
    groups = _repeat_groups(predictions, responses, stimulus_ids, skip)
    mean_response = np.concatenate([response.mean(axis=0) for _, response in groups])
    mean_prediction = np.concatenate([prediction.mean(axis=0) for prediction, _ in groups])
    signal_power = _signal_power([response for _, response in groups])
    y = mean_response - mean_response.mean(axis=0)
    yhat = mean_prediction - mean_prediction.mean(axis=0)
    covariance = (y * yhat).mean(axis=0)
    result = covariance / (np.sqrt(np.clip(signal_power, 0.0, None) * yhat.var(axis=0)) + EPS)
    result[signal_power <= 0] = np.nan
    return result


MIN_EXPLAINABLE = 0.15
"""FEVE is left undefined (NaN) for neurons whose explainable variance is below this fraction of their
total variance (the selection of Cadena et al. 2019): the ratio explodes as its denominator nears 0."""


def explainable_variance_explained(
    predictions: Trials,
    responses: Trials,
    stimulus_ids: Sequence[Hashable],
    *,
    skip: int = SKIP_FRAMES,
    min_explainable: float = MIN_EXPLAINABLE,
) -> np.ndarray:
    """FEVE (Cadena et al. 2019) over the repeated stimuli: sees amplitude, as correlation cannot; K -> (N,).

    Per neuron, over every single trial of the stimuli shown at least twice (each cut to its shortest):
        FEVE = 1 - (MSE - noise) / (Var(y) - noise)
    MSE the mean squared error of the prediction against the single trials, noise the across-repeat
    variance (ddof 1) averaged over frames, Var(y) the variance of the single trials over all their frames
    (ddof 0). 1: the noise-free response predicted exactly; 0: no better than a constant at the mean; a
    prediction of the right shape but the wrong scale or offset loses what correlation keeps. NaN where the
    explainable variance Var(y) - noise is below `min_explainable` of Var(y). Raises ValueError when no
    stimulus is repeated.
    """
    groups = _repeat_groups(predictions, responses, stimulus_ids, skip)
    neurons = groups[0][1].shape[-1]
    single = np.concatenate([response.reshape(-1, neurons) for _, response in groups])
    predicted = np.concatenate([prediction.reshape(-1, neurons) for prediction, _ in groups])
    error = ((single - predicted) ** 2).mean(axis=0)
    noise = np.concatenate([response.var(axis=0, ddof=1) for _, response in groups]).mean(axis=0)
    total = single.var(axis=0)
    explainable = total - noise
    with np.errstate(divide="ignore", invalid="ignore"):
        result = 1.0 - (error - noise) / explainable
    result[~(explainable >= min_explainable * total) | ~(explainable > 0)] = np.nan
    return result


def noise_ceiling(
    responses: Trials, stimulus_ids: Sequence[Hashable], *, skip: int = SKIP_FRAMES
) -> np.ndarray:
    """The best single-trial correlation any model can reach, estimated from repeats; K trials -> (N,).

    The expected correlation between the noise-free signal and one recorded trial, sqrt(SP / Var(y)),
    with SP the signal power of `normalized_correlation` and Var(y) the variance of single trials over
    the repeated trials' frames (ddof 0). Single-trial correlation / noise ceiling is the fraction of the
    reachable correlation a model attains. Neurons with SP <= 0 get NaN. Raises ValueError when no
    stimulus is repeated.
    """
    groups = _repeat_groups(responses, responses, stimulus_ids, skip)
    repeated = [response for _, response in groups]
    neurons = repeated[0].shape[-1]
    signal_power = _signal_power(repeated)
    total = np.concatenate([response.reshape(-1, neurons) for response in repeated]).var(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.sqrt(np.clip(signal_power, 0.0, None) / total)
    result[~(signal_power > 0)] = np.nan
    return np.minimum(result, 1.0)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of the finite entries of `p` (any shape, NaN untested and kept):
    the smallest p_(j) m / j over ranks j >= the entry's rank, at most 1."""
    flat = np.asarray(p, np.float64).ravel()
    tested = np.flatnonzero(np.isfinite(flat))
    order = tested[np.argsort(flat[tested], kind="stable")]
    scaled = flat[order] * len(order) / np.arange(1, len(order) + 1)
    adjusted = np.full_like(flat, np.nan)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted.reshape(np.shape(p))


def _signal_power(repeated: list[np.ndarray]) -> np.ndarray:
    """Signal power SP per neuron (see `normalized_correlation`) of stimuli stacked (R_s, T_s, N) -> (N,)."""
    mean_response = np.concatenate([response.mean(axis=0) for response in repeated])
    frames = mean_response.shape[0]
    noise_of_mean = np.concatenate(
        [response.var(axis=0, ddof=1) / len(response) for response in repeated]
    ).mean(axis=0)
    offsets = sum(
        ((response - response.mean(axis=0)).sum(axis=1) ** 2).sum(axis=0)
        / (len(response) * (len(response) - 1))
        for response in repeated
    )
    return mean_response.var(axis=0) - noise_of_mean + offsets / frames**2


def _trials(predictions: Trials, responses: Trials, skip: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validated float64 trials with the first `skip` frames dropped; K x (T_i, N) -> K x (T_i - skip, N)."""
    if isinstance(skip, bool) or not isinstance(skip, int | np.integer) or skip < 0:
        raise ValueError(f"skip is a number of frames, an integer >= 0; got {skip!r}")
    if len(predictions) != len(responses):
        raise ValueError(f"predictions has {len(predictions)} trials but responses has {len(responses)}")
    if len(responses) == 0:
        raise ValueError("no trials: predictions and responses are empty")
    neurons = np.shape(responses[0])[-1]
    kept_predictions, kept_responses = [], []
    for i, (prediction, response) in enumerate(zip(predictions, responses, strict=True)):
        prediction = np.asarray(prediction, dtype=np.float64)
        response = np.asarray(response, dtype=np.float64)
        if response.ndim != 2 or prediction.shape != response.shape:
            raise ValueError(
                f"trial {i}: expected prediction and response of one shape (T, N), got prediction "
                f"{prediction.shape} and response {response.shape}"
            )
        if response.shape[1] != neurons:
            raise ValueError(f"trial {i} has {response.shape[1]} neurons but trial 0 has {neurons}")
        if response.shape[0] <= skip:
            raise ValueError(
                f"trial {i} has {response.shape[0]} frames: nothing is left after skipping the first {skip}"
            )
        kept_predictions.append(prediction[skip:])
        kept_responses.append(response[skip:])
    return kept_predictions, kept_responses


def _repeat_groups(
    predictions: Trials, responses: Trials, stimulus_ids: Sequence[Hashable], skip: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(prediction, response) stacks of shape (R_s, T_s, N), one per stimulus shown at least twice, each
    cut to its shortest trial; in order of first appearance."""
    predictions, responses = _trials(predictions, responses, skip)
    if len(stimulus_ids) != len(responses):
        raise ValueError(
            f"stimulus_ids has {len(stimulus_ids)} entries but there are {len(responses)} trials"
        )
    trials_of: dict[Hashable, list[int]] = {}
    for i, stimulus in enumerate(stimulus_ids):
        trials_of.setdefault(stimulus.item() if isinstance(stimulus, np.generic) else stimulus, []).append(i)
    groups = []
    for indices in trials_of.values():
        if len(indices) < 2:
            continue
        frames = min(len(responses[i]) for i in indices)
        groups.append(
            (
                np.stack([predictions[i][:frames] for i in indices]),
                np.stack([responses[i][:frames] for i in indices]),
            )
        )
    if not groups:
        raise ValueError(
            f"no stimulus is shown at least twice among the {len(responses)} trials "
            f"({len(trials_of)} distinct stimulus ids); correlation to average and CCnorm need "
            "repeated stimuli"
        )
    return groups
