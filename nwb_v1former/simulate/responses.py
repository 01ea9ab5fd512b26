"""From screen and behaviour to event rates, calcium-like measurements and the exact noise ceiling."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE, TICK_RATE_HZ
from nwb_v1former.metrics import correlation_per_neuron
from nwb_v1former.simulate.behavior import Behavior
from nwb_v1former.simulate.config import DEGREES_PER_PIXEL, SimulationConfig
from nwb_v1former.simulate.population import Population, gabor_filters
from nwb_v1former.simulate.stimuli import GREY
from nwb_v1former.simulate.surround import suppression, surround_energy, surround_pools

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
    """Quadrature Gabor responses to the eye-shifted screen and the RMS contrast of each neuron's
    surround; (T, 36, 64) uint8 -> (T, 3, N) float32: even, odd, surround.

    Works through blocks of ticks: shift every frame of the block by its eye position, then one large
    matrix product (many small products would be several times slower).
    """
    filters = np.concatenate([gabor_filters(population), gabor_filters(population, np.pi / 2)], axis=1)
    pools = surround_pools(population.rf_center, population.surround_sigma_px)
    shifts = eye_shift_px(pupil_center)
    drive = np.empty((len(screen), 3, population.size), dtype=np.float32)
    for start in range(0, len(screen), block_ticks):
        block = slice(start, start + block_ticks)
        contrast = (screen[block].astype(np.float32) - GREY) / GREY
        seen = np.empty_like(contrast)
        unique, group = np.unique(shifts[block], axis=0, return_inverse=True)
        for index, (rows, columns) in enumerate(unique):
            ticks = np.flatnonzero(group.ravel() == index)
            seen[ticks] = _shift_frames(contrast[ticks], int(rows), int(columns))
        seen = seen.reshape(len(seen), -1)
        drive[block, :2] = (seen @ filters).reshape(len(seen), 2, population.size)
        drive[block, 2] = surround_energy(seen, pools)
    return drive


def _temporal_filter(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Causal per-neuron convolution; signal (T, N), kernel (K, N) -> (T, N)."""
    out = np.zeros_like(signal)
    for lag in range(kernel.shape[0]):
        out[lag:] += kernel[lag] * signal[: len(signal) - lag]
    return out


def behavioral_gain(
    behavior: Behavior, population: Population, pupil_mean: float, pupil_std: float
) -> np.ndarray:
    """Multiplicative gain from running and pupil dilation, bounded to exp(+-(|g_run| + |g_pupil|)); (T, N).

    log gain = g_run * tanh(speed / 20 cm/s) + g_pupil * tanh(z-scored pupil diameter / 2), the pupil
    z-scored by the session's `pupil_mean` and `pupil_std`.
    """
    running = np.tanh(behavior.running_speed[:, None] / RUNNING_SCALE_CM_S)
    pupil = np.tanh((behavior.pupil_diameter[:, None] - pupil_mean) / (2 * pupil_std + 1e-6))
    log_gain = population.gain_running * running + population.gain_pupil * pupil
    return np.exp(log_gain).astype(np.float32)


@dataclass(frozen=True)
class Normalisation:
    """What a session's own statistics set in its neurons' response model, kept so that the same animal
    shown other stimuli responds on the same scale: drive_scale (N,) -- std of the filtered drive;
    half_saturation (N,) -- the 90th percentile of the rectified drive; surround_reference (N,) -- the
    mean surround contrast, at which suppression leaves the rate as it is; pupil_mean, pupil_std -- of
    the pupil diameter, which centre and scale the pupil gain."""

    drive_scale: np.ndarray
    half_saturation: np.ndarray
    surround_reference: np.ndarray
    pupil_mean: float
    pupil_std: float

    def subset(self, index: np.ndarray | slice) -> Normalisation:
        """The scales of the neurons at `index` (see Population.subset)."""
        return dataclasses.replace(
            self,
            drive_scale=self.drive_scale[index],
            half_saturation=self.half_saturation[index],
            surround_reference=self.surround_reference[index],
        )


def surround_smoothing(population: Population) -> np.ndarray:
    """Causal kernel through which the surround acts: the magnitude of each neuron's temporal kernel,
    summing to 1, so the surround is as late as the centre; (TEMPORAL_TAPS, N) float32."""
    magnitude = np.abs(population.temporal_kernel)
    return (magnitude / magnitude.sum(axis=0, keepdims=True)).astype(np.float32)


def driven_rates(
    even: np.ndarray,
    odd: np.ndarray,
    surround: np.ndarray,
    gain: np.ndarray,
    population: Population,
    normalisation: Normalisation,
) -> np.ndarray:
    """Event rates from temporally filtered drive; even, odd, surround, gain (T, N) -> (T, N) float32.

    Simple cells rectify their linear response, complex cells their quadrature energy; both pass a
    threshold and a saturating (Naka-Rushton) nonlinearity, are divided by their surround suppression
    (simulate.surround) and gain-modulated by behaviour.
    """
    saturated = _saturated(even, odd, population, normalisation.drive_scale, normalisation.half_saturation)
    divisor = suppression(surround, population.surround_strength, normalisation.surround_reference)
    rates = population.baseline + population.amplitude * saturated / divisor * gain
    return rates.astype(np.float32)


def _rectified(even: np.ndarray, odd: np.ndarray, population: Population, scale: np.ndarray) -> np.ndarray:
    simple = np.maximum(even / scale - SIMPLE_THRESHOLD, 0.0)
    complex_ = np.maximum(np.sqrt(even**2 + odd**2) / scale - COMPLEX_THRESHOLD, 0.0)
    return np.where(population.is_complex, complex_, simple)


def _saturated(
    even: np.ndarray, odd: np.ndarray, population: Population, scale: np.ndarray, half: np.ndarray
) -> np.ndarray:
    rectified = _rectified(even, odd, population, scale)
    return rectified**2 / (rectified**2 + half**2)


def event_rates(
    screen: np.ndarray,
    behavior: Behavior,
    population: Population,
    normalisation: Normalisation | None = None,
) -> tuple[np.ndarray, Normalisation]:
    """Expected events per 30 Hz tick for every neuron, (T, N) float32, and the normalisation used.

    See `driven_rates`. Without `normalisation` the scales come from this session: the drive's std,
    half saturation at the neuron's 90th-percentile rectified drive, its mean surround contrast.
    """
    drive = spatial_drive(screen, behavior.pupil_center, population)
    kernel = population.temporal_kernel.astype(np.float32)
    even, odd = _temporal_filter(drive[:, 0], kernel), _temporal_filter(drive[:, 1], kernel)
    surround = _temporal_filter(drive[:, 2], surround_smoothing(population))
    if normalisation is None:
        scale = even.std(axis=0) + 1e-6
        pupil = behavior.pupil_diameter
        normalisation = Normalisation(
            drive_scale=scale,
            half_saturation=np.percentile(_rectified(even, odd, population, scale), 90, axis=0) + 1e-6,
            surround_reference=surround.mean(axis=0),
            pupil_mean=float(pupil.mean()),
            pupil_std=float(pupil.std()),
        )
    gain = behavioral_gain(behavior, population, normalisation.pupil_mean, normalisation.pupil_std)
    return driven_rates(even, odd, surround, gain, population, normalisation), normalisation


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
