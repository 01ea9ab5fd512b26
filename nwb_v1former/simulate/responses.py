"""From screen and behaviour to event rates, calcium-like measurements and the exact noise ceiling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE, TICK_RATE_HZ
from nwb_v1former.metrics import correlation_per_neuron
from nwb_v1former.simulate.behavior import Behavior
from nwb_v1former.simulate.config import DEGREES_PER_PIXEL, SimulationConfig
from nwb_v1former.simulate.population import Population, gabor_filters
from nwb_v1former.simulate.stimuli import GREY

SIMPLE_THRESHOLD = 0.5
COMPLEX_THRESHOLD = 1.0
RUNNING_SCALE_CM_S = 20.0


def eye_shift_px(pupil_center_deg: np.ndarray) -> np.ndarray:
    """Integer screen shift (rows, columns) of every receptive field for each eye position; (T, 2) int."""
    shift = np.rint(pupil_center_deg / DEGREES_PER_PIXEL).astype(np.int64)
    return shift[:, ::-1]  # (azimuth, elevation) -> (row, column)


def _shift_frames(contrast: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Frames as seen through an eye turned by (rows, columns) pixels: out[y, x] = in[y + rows, x + columns],
    grey (zero contrast) outside the screen; (T, 36, 64) -> (T, 36, 64)."""
    height, width = FRAME_SHAPE
    out = np.zeros_like(contrast)
    ys, yd = slice(max(rows, 0), height + min(rows, 0)), slice(max(-rows, 0), height + min(-rows, 0))
    xs, xd = (
        slice(max(columns, 0), width + min(columns, 0)),
        slice(max(-columns, 0), width + min(-columns, 0)),
    )
    if ys.start < ys.stop and xs.start < xs.stop:
        out[:, yd, xd] = contrast[:, ys, xs]
    return out


def spatial_drive(
    screen: np.ndarray, pupil_center: np.ndarray, population: Population, block_ticks: int = 4096
) -> np.ndarray:
    """Quadrature Gabor responses to the eye-shifted screen; (T, 36, 64) uint8 -> (T, 2, N) float32.

    Works through blocks of ticks: shift every frame of the block by its eye position, then one large
    matrix product (many small products would be several times slower).
    """
    filters = np.concatenate([gabor_filters(population), gabor_filters(population, np.pi / 2)], axis=1)
    shifts = eye_shift_px(pupil_center)
    drive = np.empty((len(screen), 2 * population.size), dtype=np.float32)
    for start in range(0, len(screen), block_ticks):
        block = slice(start, start + block_ticks)
        contrast = (screen[block].astype(np.float32) - GREY) / GREY
        seen = np.empty_like(contrast)
        unique, group = np.unique(shifts[block], axis=0, return_inverse=True)
        for index, (rows, columns) in enumerate(unique):
            ticks = np.flatnonzero(group.ravel() == index)
            seen[ticks] = _shift_frames(contrast[ticks], int(rows), int(columns))
        drive[block] = seen.reshape(len(seen), -1) @ filters
    return drive.reshape(len(screen), 2, population.size)


def _temporal_filter(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal per-neuron convolution; signal (T, N), kernel (K, N) -> (T, N)."""
    out = np.zeros_like(signal)
    for lag in range(kernel.shape[0]):
        out[lag:] += kernel[lag] * signal[: len(signal) - lag]
    return out


def behavioral_gain(behavior: Behavior, population: Population) -> np.ndarray:
    """Multiplicative gain from running and pupil dilation, bounded to exp(+-(|g_run| + |g_pupil|)); (T, N).

    log gain = g_run * tanh(speed / 20 cm/s) + g_pupil * tanh(z-scored pupil diameter / 2).
    """
    running = np.tanh(behavior.running_speed[:, None] / RUNNING_SCALE_CM_S)
    pupil = behavior.pupil_diameter[:, None]
    pupil = np.tanh((pupil - pupil.mean()) / (2 * pupil.std() + 1e-6))
    log_gain = population.gain_running * running + population.gain_pupil * pupil
    return np.exp(log_gain).astype(np.float32)


def event_rates(screen: np.ndarray, behavior: Behavior, population: Population) -> np.ndarray:
    """Expected events per 30 Hz tick for every neuron; (T, N) float32.

    Simple cells rectify their linear response, complex cells their quadrature energy; both pass a
    threshold and a saturating (Naka-Rushton) nonlinearity that reaches half its peak at the
    neuron's 90th-percentile drive, and are gain-modulated by behaviour.
    """
    drive = spatial_drive(screen, behavior.pupil_center, population)
    even = _temporal_filter(drive[:, 0], population.temporal_kernel.astype(np.float32))
    odd = _temporal_filter(drive[:, 1], population.temporal_kernel.astype(np.float32))
    scale = even.std(axis=0) + 1e-6
    simple = np.maximum(even / scale - SIMPLE_THRESHOLD, 0.0)
    complex_ = np.maximum(np.sqrt(even**2 + odd**2) / scale - COMPLEX_THRESHOLD, 0.0)
    rectified = np.where(population.is_complex, complex_, simple)
    half_saturation = np.percentile(rectified, 90, axis=0) + 1e-6
    saturated = rectified**2 / (rectified**2 + half_saturation**2)
    gain = behavioral_gain(behavior, population)
    rates = population.baseline + population.amplitude * saturated * gain
    return rates.astype(np.float32)


@dataclass(frozen=True)
class Measurement:
    """Calcium-like imaging of the events, at the imaging rate.

    times (M,) float64 -- acquisition time of each imaging frame (s);
    measured (M, N) float32 -- what a microscope would record (dF/F-like);
    expected (M, N) float32 -- its expectation given stimulus and behaviour;
    expected_ticks (T, N) float32 -- the same expectation on the 30 Hz grid;
    noise_ceiling (N,) -- exact expected correlation of `expected` with `measured`;
    realised_ceiling (N,) -- that correlation on this draw.
    """

    times: np.ndarray
    measured: np.ndarray
    expected: np.ndarray
    expected_ticks: np.ndarray
    noise_ceiling: np.ndarray
    realised_ceiling: np.ndarray


def _exponential_filter(signal: np.ndarray, decay: float) -> np.ndarray:
    """out[t] = sum_k decay**k * signal[t - k]; (T, N) -> (T, N) float32 (accumulated in float64)."""
    out = np.empty(signal.shape, dtype=np.float32)
    state = np.zeros(signal.shape[1])
    for t, row in enumerate(signal):
        state = decay * state + row
        out[t] = state
    return out


def imaging_positions(
    n_ticks: int, imaging_rate: float, phase: float, jitter: np.ndarray | None = None
) -> np.ndarray:
    """Position of each imaging frame on the tick axis (in ticks, fractional); (M,) float64.

    Computed from integer frame indices, so a 30 Hz recording with phase 0 and no jitter lands exactly
    on ticks. `jitter` (M,) in imaging frames models the acquisition clock's irregularity.
    """
    ticks_per_frame = TICK_RATE_HZ / imaging_rate
    n_frames = int(np.floor((n_ticks - 1) / ticks_per_frame - phase)) + 1
    frames = phase + np.arange(n_frames, dtype=np.float64)
    if jitter is not None:
        frames += jitter[:n_frames]
    return np.clip(frames * ticks_per_frame, 0.0, n_ticks - 1)


NEURONS_PER_BLOCK = 128
"""Neurons measured at once: keeps the float64 temporaries of a long session to a few hundred MB."""


def measure(
    rates: np.ndarray, tick_times: np.ndarray, config: SimulationConfig, rng: np.random.Generator
) -> Measurement:
    """Poisson events -> exponential calcium kernel -> sampled at the imaging rate -> Gaussian noise.

    Neurons are independent given the rates, so they are measured a block at a time.
    """
    phase = rng.uniform() if config.imaging_phase is None else config.imaging_phase
    max_frames = int(len(rates) * config.imaging_rate / TICK_RATE_HZ) + 2
    jitter = rng.uniform(-config.timing_jitter, config.timing_jitter, size=max_frames)
    position = imaging_positions(
        len(rates), config.imaging_rate, phase, jitter if config.timing_jitter else None
    )
    left = np.minimum(np.floor(position).astype(np.int64), len(rates) - 1)
    right = np.minimum(left + 1, len(rates) - 1)
    n_frames, n_neurons = len(position), rates.shape[1]
    measured = np.empty((n_frames, n_neurons), np.float32)
    expected = np.empty((n_frames, n_neurons), np.float32)
    expected_ticks = np.empty(rates.shape, np.float32)
    noise_ceiling = np.empty(n_neurons)
    for first in range(0, n_neurons, NEURONS_PER_BLOCK):
        block = slice(first, first + NEURONS_PER_BLOCK)
        measured[:, block], expected[:, block], expected_ticks[:, block], noise_ceiling[block] = (
            _measure_block(rates[:, block], position, left, right, config, rng)
        )
    return Measurement(
        times=tick_times[0] + position / TICK_RATE_HZ,
        measured=measured,
        expected=expected,
        expected_ticks=expected_ticks,
        noise_ceiling=noise_ceiling,
        realised_ceiling=correlation_per_neuron(expected, measured),
    )


def _measure_block(
    rates: np.ndarray,
    position: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(measured (M, n), expected (M, n), expected on ticks (T, n), noise ceiling (n,)) for n neurons."""
    decay = float(np.exp(-1.0 / (config.calcium_tau * TICK_RATE_HZ)))
    calcium = _exponential_filter(rng.poisson(rates).astype(np.float32), decay)
    expected_ticks = _exponential_filter(rates, decay)
    # Var(c_t) = sum_k h_k^2 rate_{t-k};  Cov(c_t, c_{t+1}) = decay * Var(c_t)  (h_k = decay**k).
    variance_ticks = _exponential_filter(rates, decay**2)
    b = (position - left)[:, None]
    a = 1.0 - b

    def sample(values: np.ndarray) -> np.ndarray:
        return a * values[left] + b * values[right]

    amplitude, noise = config.event_amplitude, config.measurement_noise
    expected = amplitude * sample(expected_ticks)
    noise_variance = amplitude**2 * (
        a**2 * variance_ticks[left] + b**2 * variance_ticks[right] + 2 * a * b * decay * variance_ticks[left]
    )
    noise_variance += noise**2
    measured = amplitude * sample(calcium) + noise * rng.standard_normal(expected.shape)
    signal_variance = expected.var(axis=0)
    ceiling = np.sqrt(signal_variance / (signal_variance + noise_variance.mean(axis=0)))
    return measured, expected, amplitude * expected_ticks, ceiling
