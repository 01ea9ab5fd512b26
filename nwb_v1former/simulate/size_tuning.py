"""The true size tuning of simulated neurons: what an in-silico size-tuning experiment should find.

Each neuron is shown its own preferred grating (orientation, period, phase) in a disc centred on its
receptive field, on grey, held still: its response is the simulator's own expected rate once the
temporal kernel has settled, with the normalisation of the session it was recorded in.
"""

from __future__ import annotations

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE
from nwb_v1former.simulate.population import Population, gabor_filters
from nwb_v1former.simulate.responses import Normalisation, driven_rates
from nwb_v1former.simulate.surround import surround_pools


def disc_gratings(
    center: np.ndarray,
    orientation: np.ndarray,
    period_px: np.ndarray,
    phase: np.ndarray,
    diameters_px: np.ndarray,
) -> np.ndarray:
    """Full-contrast static gratings in discs, contrast in [-1, 1], grey (0) outside.

    center (N, 2) (row, column) px, orientation, period_px, phase (N,), diameters_px (D,)
    -> (N, D, 36, 64) float32.
    """
    height, width = FRAME_SHAPE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dy = yy[None] - center[:, 0, None, None]
    dx = xx[None] - center[:, 1, None, None]
    along = dx * np.cos(orientation)[:, None, None] + dy * np.sin(orientation)[:, None, None]
    carrier = np.cos(2 * np.pi * along / period_px[:, None, None] + phase[:, None, None])  # (N, H, W)
    inside = np.hypot(dx, dy)[:, None] <= np.asarray(diameters_px)[None, :, None, None] / 2  # (N, D, H, W)
    return (carrier[:, None] * inside).astype(np.float32)


def true_size_tuning(
    population: Population, normalisation: Normalisation, diameters_px: np.ndarray, contrast: float = 1.0
) -> np.ndarray:
    """Each neuron's steady expected rate (events / tick; still, mean pupil, eye centred) to its
    preferred grating at `contrast` in discs of `diameters_px`; (N, D) float32."""
    frames = contrast * disc_gratings(
        population.rf_center, population.orientation, population.period_px, population.phase, diameters_px
    )
    flat = frames.reshape(*frames.shape[:2], -1)  # (N, D, H*W)
    sustained = population.temporal_kernel.sum(axis=0)  # a held frame's drive after the temporal kernel
    even = np.einsum("ndp,pn->dn", flat, gabor_filters(population)) * sustained
    odd = np.einsum("ndp,pn->dn", flat, gabor_filters(population, np.pi / 2)) * sustained
    pools = surround_pools(population.rf_center, population.surround_sigma_px)  # (H*W, N)
    surround = np.sqrt(np.maximum(np.einsum("ndp,pn->dn", flat**2, pools), 0.0))
    rates = driven_rates(even, odd, surround, np.ones_like(even), population, normalisation)
    return rates.T
