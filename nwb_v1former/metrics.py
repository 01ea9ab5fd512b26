"""Response-prediction metrics, in one place for the simulator, training, evaluation and the report."""

from __future__ import annotations

import numpy as np

EPS = 1e-8


def correlation_per_neuron(prediction: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Pearson correlation over time for each neuron; (T, N), (T, N) -> (N,).

    As the Sensorium competition computes it: population statistics (ddof 0), eps 1e-8 in the
    denominator, and NaN (a constant trace) mapped to 0.
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
    correlation = covariance / (p.std(axis=0) * r.std(axis=0) + EPS)
    return np.nan_to_num(correlation, nan=0.0)
