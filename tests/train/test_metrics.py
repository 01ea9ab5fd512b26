"""The metrics module: values worked out by hand on tiny arrays, and the properties each metric promises."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nwb_v1former.metrics import (
    SKIP_FRAMES,
    correlation_per_neuron,
    correlation_to_average,
    explainable_variance_explained,
    mean_over_neurons,
    normalized_correlation,
    single_trial_correlation,
)

REPEAT_METRICS = [correlation_to_average, normalized_correlation, explainable_variance_explained]


def _with_burn_in(trace: list[list[float]], rng: np.random.Generator) -> np.ndarray:
    """A trial: SKIP_FRAMES of large finite garbage, then `trace` (T, N), the frames that count."""
    trace = np.asarray(trace, dtype=np.float64).reshape(len(trace), -1)
    return np.concatenate([rng.normal(scale=100.0, size=(SKIP_FRAMES, trace.shape[1])), trace])


def _repeated(
    seed: int,
    repeats: list[int],
    *,
    frames: int = 100,
    neurons: int = 20,
    noise: float = 1.0,
) -> tuple[list[np.ndarray], list[np.ndarray], list[int], list[np.ndarray]]:
    """Noisy repeats of standard-normal signals, one per stimulus, after a garbage burn-in.

    Returns predictions (the noise-free signal), responses (signal + noise), stimulus ids, and unrelated
    predictions (independent noise); every trial (SKIP_FRAMES + frames, neurons).
    """
    rng = np.random.default_rng(seed)
    predictions, responses, ids, unrelated = [], [], [], []
    for stimulus, count in enumerate(repeats):
        signal = rng.normal(size=(frames, neurons))
        for _ in range(count):
            burn_in = rng.normal(scale=5.0, size=(SKIP_FRAMES, neurons))
            responses.append(np.concatenate([burn_in, signal + noise * rng.normal(size=signal.shape)]))
            predictions.append(np.concatenate([-burn_in, signal]))
            unrelated.append(rng.normal(size=(SKIP_FRAMES + frames, neurons)))
            ids.append(stimulus)
    return predictions, responses, ids, unrelated


# Values by hand. Each trial is 50 frames of garbage then a few frames that count.


def test_correlation_per_neuron_by_hand():
    prediction = np.array([[1.0, 1.0, 5.0], [2.0, 3.0, 5.0], [3.0, 2.0, 5.0]])
    response = np.array([[2.0, 1.0, 1.0], [4.0, 2.0, 2.0], [6.0, 3.0, 3.0]])
    # Neuron 0: a linear map, r = 1. Neuron 1: deviations (-1, 1, 0) and (-1, 0, 1): cov 1/3, vars 2/3 -> 1/2.
    # Neuron 2: constant prediction -> 0, not NaN. The eps (1e-8) moves values by < 1e-7.
    np.testing.assert_allclose(correlation_per_neuron(prediction, response), [1.0, 0.5, 0.0], atol=1e-7)


def test_single_trial_correlation_by_hand_ignores_the_burn_in():
    rng = np.random.default_rng(0)
    # After the skip, concatenated: neuron 0 response (1, 2, 3, 4), prediction (1, 3, 2, 4):
    # deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): cov 1, variances 1.25 -> r = 0.8.
    # Neuron 1: prediction = 2 * response + 1 -> r = 1.
    responses = [_with_burn_in([[1, 0], [2, 1]], rng), _with_burn_in([[3, 0], [4, 5]], rng)]
    predictions = [_with_burn_in([[1, 1], [3, 3]], rng), _with_burn_in([[2, 1], [4, 11]], rng)]
    assert predictions[0].shape == (52, 2)
    result = single_trial_correlation(predictions, responses)
    np.testing.assert_allclose(result, [0.8, 1.0], atol=1e-7)
    assert mean_over_neurons(result) == pytest.approx(0.9, abs=1e-7)
    # The burn-in frames are garbage: counting them gives something else entirely.
    assert not np.allclose(single_trial_correlation(predictions, responses, skip=0), [0.8, 1.0], atol=0.05)


def test_correlation_to_average_by_hand_uses_only_repeats_and_the_shortest_repeat():
    rng = np.random.default_rng(1)
    # Stimulus 7 twice: responses (0, 2, 2) and (2, 2, 4) average to (1, 2, 3); predictions average to
    # (1, 3, 2): deviations (-1, 0, 1) and (-1, 1, 0), cov 1/3, variances 2/3 -> r = 0.5.
    # The second repeat has a fourth frame, cut (the group keeps its shortest trial's frames);
    # stimulus 9 is shown once, so it does not count.
    responses = [
        _with_burn_in([[0], [2], [2]], rng),
        _with_burn_in([[2], [2], [4], [-50]], rng),
        _with_burn_in([[9], [-9], [9]], rng),
    ]
    predictions = [
        _with_burn_in([[0], [4], [2]], rng),
        _with_burn_in([[2], [2], [2], [50]], rng),
        _with_burn_in([[9], [9], [-9]], rng),
    ]
    np.testing.assert_allclose(correlation_to_average(predictions, responses, [7, 7, 9]), [0.5], atol=1e-7)


def test_normalized_correlation_by_hand():
    rng = np.random.default_rng(3)
    # Repeats (1, 2, 6) and (1, 4, 4): Var(sum) = Var(2, 6, 10) = 32/3, Var(r1) = 14/3, Var(r2) = 2 (ddof 0)
    # -> SP = (32/3 - 14/3 - 2) / (2 * 1) = 2. ybar = (1, 3, 5), yhat = (1, 5, 3): cov 4/3, Var(yhat) 8/3
    # -> CCnorm = (4/3) / sqrt(2 * 8/3) = 1/sqrt(3); the plain correlation to average is 0.5.
    responses = [_with_burn_in([[1], [2], [6]], rng), _with_burn_in([[1], [4], [4]], rng)]
    predictions = [_with_burn_in([[1], [5], [3]], rng), _with_burn_in([[1], [5], [3]], rng)]
    np.testing.assert_allclose(normalized_correlation(predictions, responses, [0, 0]), [3**-0.5], atol=1e-7)
    np.testing.assert_allclose(correlation_to_average(predictions, responses, [0, 0]), [0.5], atol=1e-7)


def test_feve_by_hand_sees_the_amplitude_correlation_cannot():
    rng = np.random.default_rng(4)
    # Neuron 0, repeats (0, 4) and (2, 6): noise = mean of the per-frame variances (ddof 1) = (2 + 2) / 2 = 2,
    # Var(y) over (0, 4, 2, 6) = 5 -> explainable 3 (60%). Prediction (2, 4): MSE (4 + 0 + 0 + 4) / 4 = 2
    # -> FEVE = 1 - (2 - 2) / 3 = 1. The repeat mean a third as large, (1/3, 5/3): MSE = (1/9 + 49/9 + 25/9
    # + 169/9) / 4 = 61/9 -> FEVE = 1 - (61/9 - 2) / 3 = -16/27, while its correlation stays 1.
    # Neuron 1, repeats (0, 4) and (4, 0): all noise, no explainable variance -> NaN.
    responses = [_with_burn_in([[0, 0], [4, 4]], rng), _with_burn_in([[2, 4], [6, 0]], rng)]
    right = [_with_burn_in([[2, 1], [4, 1]], rng) for _ in range(2)]
    small = [_with_burn_in([[1 / 3, 1], [5 / 3, 2]], rng) for _ in range(2)]
    np.testing.assert_allclose(explainable_variance_explained(right, responses, [0, 0]), [1, np.nan])
    np.testing.assert_allclose(explainable_variance_explained(small, responses, [0, 0]), [-16 / 27, np.nan])
    np.testing.assert_allclose(correlation_to_average(small, responses, [0, 0])[0], 1.0, atol=1e-7)
    # Neuron 0 is kept only while its explainable fraction (0.6) reaches min_explainable.
    assert np.isnan(explainable_variance_explained(right, responses, [0, 0], min_explainable=0.7)[0])


def test_normalized_correlation_matches_schoppe_literally_for_one_stimulus():
    rng = np.random.default_rng(4)
    repeats, frames, neurons = 5, 40, 6
    response = rng.normal(size=(repeats, frames, neurons)) + rng.normal(size=(frames, neurons))
    prediction = rng.normal(size=(repeats, frames, neurons)) + response.mean(axis=0)
    # Schoppe et al. 2016, as written: SP = (Var(sum_r y_r) - sum_r Var(y_r)) / (R (R - 1)).
    signal_power = (response.sum(axis=0).var(axis=0) - response.var(axis=1).sum(axis=0)) / (
        repeats * (repeats - 1)
    )
    ybar, yhat = response.mean(axis=0), prediction.mean(axis=0)
    covariance = ((ybar - ybar.mean(axis=0)) * (yhat - yhat.mean(axis=0))).mean(axis=0)
    expected = covariance / (np.sqrt(signal_power * yhat.var(axis=0)) + 1e-8)
    assert (signal_power > 0).all()
    result = normalized_correlation(list(prediction), list(response), [0] * repeats, skip=0)
    np.testing.assert_allclose(result, expected, rtol=1e-10)


# Properties.


def test_perfect_prediction_scores_one():
    # Noise-free repeats; the prediction equals the response after the skip (not in the burn-in).
    predictions, responses, ids, _ = _repeated(5, [3, 3, 2], frames=30, neurons=4, noise=0.0)
    np.testing.assert_allclose(single_trial_correlation(predictions, responses), 1.0, atol=1e-7)
    np.testing.assert_allclose(correlation_to_average(predictions, responses, ids), 1.0, atol=1e-7)
    np.testing.assert_allclose(normalized_correlation(predictions, responses, ids), 1.0, atol=1e-7)


@pytest.mark.parametrize("repeats", [[10] * 10, [2, 3, 4, 5, 6] * 2], ids=["equal", "unequal"])
def test_noise_free_signal_scores_one_under_ccnorm_despite_noise(repeats):
    # Signal and noise both have unit variance. Over 200 seeds, per-neuron CCnorm had standard
    # deviation 0.0024 (equal repeats) / 0.009 (unequal), unbiased (mean 1.0000 +- 0.0004); so 0.05 per
    # neuron is over 5 standard deviations and 0.02 for the mean over 20 neurons over 9. A pooling that
    # ignored the repeat counts would be off by far more.
    predictions, responses, ids, _ = _repeated(6, repeats)
    result = normalized_correlation(predictions, responses, ids)
    np.testing.assert_allclose(result, 1.0, atol=0.05)
    assert mean_over_neurons(result) == pytest.approx(1.0, abs=0.02)
    # The plain correlations stay well below 1: noise they cannot predict.
    assert single_trial_correlation(predictions, responses).mean() < 0.8


def test_unrelated_prediction_scores_about_zero():
    _, responses, ids, unrelated = _repeated(7, [10] * 10)
    # 10,000 frames: the sampling standard deviation of r is 0.01, so 0.05 is 5 of them per neuron.
    assert np.abs(single_trial_correlation(unrelated, responses)).max() < 0.05
    # 1,000 repeat-averaged frames: sd 0.03 (CCnorm: times sqrt(Var(ybar) / SP), about 1.05); 0.15 is 5.
    assert np.abs(correlation_to_average(unrelated, responses, ids)).max() < 0.15
    assert np.abs(normalized_correlation(unrelated, responses, ids)).max() < 0.15


@pytest.mark.parametrize("repeats", [[4] * 5, [2, 5, 3]], ids=["equal", "unequal"])
def test_without_noise_ccnorm_is_the_correlation_to_average(repeats):
    predictions, responses, ids, unrelated = _repeated(8, repeats, frames=40, neurons=5, noise=0.0)
    mixed = [p + u for p, u in zip(predictions, unrelated, strict=True)]  # some correlation, not 1
    expected = correlation_to_average(mixed, responses, ids)
    assert expected.min() > 0.3 and expected.max() < 0.95
    np.testing.assert_allclose(normalized_correlation(mixed, responses, ids), expected, rtol=1e-9)


def test_constant_prediction_scores_zero_not_nan():
    _, responses, ids, _ = _repeated(9, [3, 3], frames=30, neurons=3)
    constant = [np.full_like(response, 2.5) for response in responses]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for result in (
            single_trial_correlation(constant, responses),
            correlation_to_average(constant, responses, ids),
            normalized_correlation(constant, responses, ids),
        ):
            np.testing.assert_array_equal(result, 0.0)


def test_unscorable_neurons_are_nan():
    rng = np.random.default_rng(10)
    predictions, responses, ids, _ = _repeated(10, [4] * 6, frames=50, neurons=3)
    # Neuron 2: constant (no variance at all): no correlation can be computed.
    for response in responses:
        response[:, 2] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = normalized_correlation(predictions, responses, ids)
    assert np.isfinite(result[:2]).all() and np.isnan(result[2])
    assert mean_over_neurons(result) == pytest.approx(result[:2].mean())
    assert np.isnan(mean_over_neurons(np.array([np.nan, np.nan])))
    # CCnorm: two repeats of opposite sign average to 0 -> no signal, SP < 0 -> NaN.
    trace = rng.normal(size=(SKIP_FRAMES + 20, 1))
    pair = [trace, -trace]
    assert np.isnan(normalized_correlation(pair, pair, [0, 0])).all()


@pytest.mark.parametrize("metric", [single_trial_correlation, *REPEAT_METRICS])
def test_every_metric_ignores_exactly_the_skipped_frames(metric):
    predictions, responses, ids, _ = _repeated(11, [3, 2, 4], frames=30, neurons=4)
    args = () if metric is single_trial_correlation else (ids,)
    trimmed = [trial[SKIP_FRAMES:] for trial in predictions], [trial[SKIP_FRAMES:] for trial in responses]
    np.testing.assert_array_equal(metric(predictions, responses, *args), metric(*trimmed, *args, skip=0))


def test_shape_mismatches_raise():
    trial = np.random.default_rng(12).normal(size=(60, 3))
    trial_cases = {  # checked by every metric, the repeat metrics too
        "2 trials but responses has 1": ([trial, trial], [trial]),
        r"trial 1: .* prediction \(60, 2\) and response \(60, 3\)": ([trial, trial[:, :2]], [trial, trial]),
        "trial 1 has 2 neurons but trial 0 has 3": ([trial, trial[:, :2]], [trial, trial[:, :2]]),
        r"trial 0: .* \(60,\)": ([trial[:, 0]], [trial[:, 0]]),
        "trial 0 has 50 frames": ([trial[:50]], [trial[:50]]),
        "no trials": ([], []),
    }
    for message, (predictions, responses) in trial_cases.items():
        with pytest.raises(ValueError, match=message):
            single_trial_correlation(predictions, responses)
        for metric in REPEAT_METRICS:
            with pytest.raises(ValueError, match=message):
                metric(predictions, responses, [0] * len(responses))
    repeat_cases = {
        "stimulus_ids has 3 entries but there are 2 trials": [0, 0, 1],
        "no stimulus is shown at least twice": [0, 1],
    }
    for message, ids in repeat_cases.items():
        for metric in REPEAT_METRICS:
            with pytest.raises(ValueError, match=message):
                metric([trial, trial], [trial, trial], ids)
    with pytest.raises(ValueError, match="skip"):
        single_trial_correlation([trial], [trial], skip=-1)
    with pytest.raises(ValueError, match="one shape"):
        correlation_per_neuron(trial, trial[:, :2])
