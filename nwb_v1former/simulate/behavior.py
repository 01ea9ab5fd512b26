"""Behaviour on the 30 Hz grid: running in bouts, pupil dilation that follows running, eye movements."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_v1former.grid import TICK_RATE_HZ


@dataclass(frozen=True)
class Behavior:
    """Per-tick behaviour; every array is (n_ticks,) or (n_ticks, 2) float32.

    running_speed -- cm/s, >= 0, in bouts;
    pupil_diameter -- mm, dilates with running;
    pupil_center -- (azimuth, elevation) eye position in degrees, drifts and saccades.
    """

    running_speed: np.ndarray
    pupil_diameter: np.ndarray
    pupil_center: np.ndarray


def _low_pass(signal: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order low-pass filter along time; (T,) -> (T,)."""
    alpha = 1.0 - np.exp(-1.0 / (tau_s * TICK_RATE_HZ))
    out = np.empty_like(signal)
    state = signal[0]
    for i, value in enumerate(signal):
        state += alpha * (value - state)
        out[i] = state
    return out


def _ornstein_uhlenbeck(rng: np.random.Generator, n: int, tau_s: float, std: float) -> np.ndarray:
    """Stationary OU process sampled on the 30 Hz grid; (n,) float64."""
    decay = np.exp(-1.0 / (tau_s * TICK_RATE_HZ))
    innovations = rng.standard_normal(n) * std * np.sqrt(1 - decay**2)
    out = np.empty(n)
    state = rng.standard_normal() * std
    for i in range(n):
        state = decay * state + innovations[i]
        out[i] = state
    return out


def simulate_behavior(rng: np.random.Generator, n_ticks: int) -> Behavior:
    """Draw one session of behaviour."""
    # Running: alternate rest (mean 12 s) and run (mean 8 s) bouts; each bout has its own speed.
    target = np.zeros(n_ticks)
    tick, running = 0, bool(rng.random() < 0.4)
    while tick < n_ticks:
        length = max(1, int(rng.exponential(8.0 if running else 12.0) * TICK_RATE_HZ))
        target[tick : tick + length] = rng.uniform(8, 35) if running else 0.0
        tick, running = tick + length, not running
    jitter = np.abs(_ornstein_uhlenbeck(rng, n_ticks, 0.5, 2.0)) * (target > 0)
    running_speed = np.maximum(_low_pass(target, 0.8) + jitter, 0.0)

    # Pupil dilates a few seconds after running starts, plus slow arousal fluctuations.
    arousal = _ornstein_uhlenbeck(rng, n_ticks, 10.0, 0.15)
    pupil_diameter = np.clip(1.0 + 0.025 * _low_pass(running_speed, 3.0) + arousal, 0.4, 3.0)

    # Eye position: slow drift around a fixation point plus saccades that jump and slowly return.
    center = np.stack([_ornstein_uhlenbeck(rng, n_ticks, 2.0, 1.0) for _ in range(2)], axis=1)
    saccade_times = np.flatnonzero(rng.random(n_ticks) < 0.3 / TICK_RATE_HZ)
    jumps = np.zeros((n_ticks, 2))
    jumps[saccade_times] = rng.normal(0.0, 4.0, size=(len(saccade_times), 2))
    offset = np.cumsum(jumps, axis=0)
    offset -= np.stack([_low_pass(offset[:, k], 6.0) for k in range(2)], axis=1)
    pupil_center = center + offset
    return Behavior(
        running_speed.astype(np.float32),
        pupil_diameter.astype(np.float32),
        pupil_center.astype(np.float32),
    )
