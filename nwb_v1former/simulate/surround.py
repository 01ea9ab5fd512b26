"""Divisive surround suppression: each neuron's drive is divided by the contrast energy around its RF.

A neuron's rate, after its saturating nonlinearity, is divided by 1 + k * S, where S is the
root-mean-square contrast pooled by a Gaussian of width `surround_sigma_px` centred on the receptive
field (lagged like the centre), and k the neuron's `surround_strength`. Dividing after saturation
keeps the suppression visible at the contrasts that saturate the centre. A grating disc that grows
past the RF centre then adds suppression but no more drive, so every neuron has a true preferred size
and a true suppression index (simulate.size_tuning).
"""

from __future__ import annotations

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE

STRENGTH_RANGE = (1.0, 6.0)
"""Per-neuron strength k is drawn uniformly from this range."""
EXTENT_RANGE = (2.0, 4.0)
"""Per-neuron surround width, in multiples of the neuron's RF sigma, drawn uniformly from this range."""


def surround_pools(rf_center: np.ndarray, surround_sigma_px: np.ndarray) -> np.ndarray:
    """Gaussian pooling weights over the 36 x 64 frame, summing to 1 per neuron; (36 * 64, N) float32.

    rf_center (N, 2) (row, column) px; surround_sigma_px (N,).
    """
    height, width = FRAME_SHAPE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dy = yy.reshape(-1, 1) - rf_center[None, :, 0]
    dx = xx.reshape(-1, 1) - rf_center[None, :, 1]
    pools = np.exp(-(dx**2 + dy**2) / (2 * surround_sigma_px**2))
    pools /= pools.sum(axis=0, keepdims=True)
    pools[pools < 1e-12] = 0.0  # no float32 denormals (slow matrix products)
    return pools.astype(np.float32)


def surround_energy(contrast: np.ndarray, pools: np.ndarray) -> np.ndarray:
    """RMS contrast in every neuron's surround; contrast (T, 36 * 64) in [-1, 1], pools (36 * 64, N)
    -> (T, N) float32."""
    return np.sqrt(np.maximum((contrast**2) @ pools, 0.0)).astype(np.float32)


def suppression(surround: np.ndarray, strength: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The divisor of every neuron's rate, (1 + k S) / (1 + k S_ref): 1 at the session's mean surround
    contrast S_ref, so suppression reshapes responses without changing their overall level;
    surround (T, N), strength (N,), reference (N,) -> (T, N)."""
    return (1.0 + strength * surround) / (1.0 + strength * reference)


def draw_surround(rf_sigma_px: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron (strength (N,), surround sigma in px (N,)) from the ranges above."""
    n = len(rf_sigma_px)
    strength = rng.uniform(*STRENGTH_RANGE, size=n)
    extent = rf_sigma_px * rng.uniform(*EXTENT_RANGE, size=n)
    return strength, extent
