"""The simulated neurons: where they sit in cortex, what they see (retinotopy) and how they respond."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE, TICK_RATE_HZ
from nwb_v1former.simulate.config import SimulationConfig
from nwb_v1former.simulate.surround import draw_surround

TEMPORAL_TAPS = 10
"""Length of every temporal kernel in 30 Hz frames (333 ms)."""


@dataclass(frozen=True)
class Population:
    """Ground-truth parameters, one row per neuron (N neurons).

    roi_ids (N,) int64 -- ids as written to the PlaneSegmentation (not contiguous);
    position_um (N, 3) float64 -- cortical x, y and depth z in micrometres;
    plane (N,) int64 -- imaging plane index;
    rf_center (N, 2) float64 -- receptive-field centre (row, column) in pixels of the 36 x 64 frame;
    orientation (N,) radians; period_px (N,) spatial period; phase (N,) radians; rf_sigma_px (N,);
    is_complex (N,) bool; latency_s (N,) peak of the temporal kernel;
    temporal_kernel (TEMPORAL_TAPS, N) -- weight of the stimulus k ticks ago, k = 0..9;
    gain_running, gain_pupil (N,) -- log-gain per unit of normalised running / pupil;
    baseline, amplitude (N,) -- spontaneous and peak driven event rates (events / tick);
    surround_strength, surround_sigma_px (N,) -- divisive surround suppression (see simulate.surround).
    """

    roi_ids: np.ndarray
    position_um: np.ndarray
    plane: np.ndarray
    rf_center: np.ndarray
    orientation: np.ndarray
    period_px: np.ndarray
    phase: np.ndarray
    rf_sigma_px: np.ndarray
    is_complex: np.ndarray
    latency_s: np.ndarray
    temporal_kernel: np.ndarray
    gain_running: np.ndarray
    gain_pupil: np.ndarray
    baseline: np.ndarray
    amplitude: np.ndarray
    surround_strength: np.ndarray
    surround_sigma_px: np.ndarray

    @property
    def size(self) -> int:
        return len(self.roi_ids)

    def subset(self, index: np.ndarray | slice) -> Population:
        """The neurons at `index`, in that order, every parameter taken alike."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["temporal_kernel"] = self.temporal_kernel.T
        taken = {name: np.asarray(array)[index] for name, array in values.items()}
        taken["temporal_kernel"] = taken["temporal_kernel"].T
        return Population(**taken)


def plane_depths_um(planes: int) -> np.ndarray:
    """Depth of each imaging plane below the pia (layer 2/3 to 4), (planes,) float64."""
    return np.linspace(200.0, 400.0, planes) if planes > 1 else np.array([250.0])


def retinotopic_map(xy_um: np.ndarray, cortex_size_um: tuple[float, float]) -> np.ndarray:
    """Smooth map from cortical (x, y) to screen (row, column) in pixels; (N, 2) -> (N, 2).

    Azimuth runs along cortical x and elevation along y, with a gentle curvature, as in mouse V1.
    """
    height, width = FRAME_SHAPE
    u = xy_um[:, 0] / cortex_size_um[0]
    v = xy_um[:, 1] / cortex_size_um[1]
    column = 6.0 + (width - 12.0) * u + 2.0 * np.sin(np.pi * v)
    row = 5.0 + (height - 10.0) * v + 1.5 * np.sin(np.pi * u)
    return np.stack([row, column], axis=1)


def temporal_kernels(latency_s: np.ndarray) -> np.ndarray:
    """Biphasic gamma-difference kernels peaking at `latency_s`; (N,) -> (TEMPORAL_TAPS, N), unit L2 norm.

    Tap 0 is the current frame; it is zero so that responses lag the stimulus, as in V1.
    """
    lag_s = np.arange(TEMPORAL_TAPS)[:, None] / TICK_RATE_HZ
    order = 3.0
    tau_fast = latency_s[None, :] / order
    tau_slow = 1.6 * tau_fast

    def gamma(tau: np.ndarray) -> np.ndarray:
        shape = (lag_s / tau) ** order * np.exp(-lag_s / tau)
        return shape / shape.sum(axis=0, keepdims=True)

    kernel = gamma(tau_fast) - 0.6 * gamma(tau_slow)
    return kernel / np.linalg.norm(kernel, axis=0, keepdims=True)


def make_population(config: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw N neurons: positions, retinotopic RF centres, Gabor filters, kernels and gains."""
    n = config.neurons
    plane = np.sort(rng.integers(0, config.planes, size=n))
    xy = rng.uniform([0.0, 0.0], config.cortex_size_um, size=(n, 2))
    depth = plane_depths_um(config.planes)[plane] + rng.uniform(-5.0, 5.0, size=n)
    position = np.column_stack([xy, depth])
    rf_center = retinotopic_map(xy, config.cortex_size_um) + rng.normal(
        0.0, config.retinotopic_scatter_px, size=(n, 2)
    )
    period = rng.uniform(7.0, 18.0, size=n)
    latency = rng.uniform(0.05, 0.12, size=n)
    roi_ids = np.sort(rng.choice(np.arange(1, 10 * n + 10), size=n, replace=False)).astype(np.int64)
    # Drawn in this order, and the surround last, so that every earlier parameter is as it was before
    # the surround existed (the shipped tiny-sim core was trained on those animals).
    orientation, phase = rng.uniform(0, np.pi, size=n), rng.uniform(0, 2 * np.pi, size=n)
    rf_sigma = period * rng.uniform(0.3, 0.5, size=n)
    is_complex = rng.random(n) < config.complex_fraction
    gain_running, gain_pupil = rng.normal(0.4, 0.25, size=n), rng.normal(0.2, 0.15, size=n)
    baseline, amplitude = rng.uniform(0.01, 0.05, size=n), rng.uniform(0.4, 1.5, size=n)
    strength, surround_sigma = draw_surround(rf_sigma, rng)
    return Population(
        roi_ids=roi_ids,
        position_um=position,
        plane=plane.astype(np.int64),
        rf_center=rf_center,
        orientation=orientation,
        period_px=period,
        phase=phase,
        rf_sigma_px=rf_sigma,
        is_complex=is_complex,
        latency_s=latency,
        temporal_kernel=temporal_kernels(latency),
        gain_running=gain_running,
        gain_pupil=gain_pupil,
        baseline=baseline,
        amplitude=amplitude,
        surround_strength=strength,
        surround_sigma_px=surround_sigma,
    )


def gabor_filters(population: Population, phase_offset: float = 0.0) -> np.ndarray:
    """Spatial filters on the 36 x 64 frame, unit L2 norm; (36 * 64, N) float32."""
    height, width = FRAME_SHAPE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    dy = yy.reshape(-1, 1) - population.rf_center[None, :, 0]
    dx = xx.reshape(-1, 1) - population.rf_center[None, :, 1]
    along = dx * np.cos(population.orientation) + dy * np.sin(population.orientation)
    envelope = np.exp(-(dx**2 + dy**2) / (2 * population.rf_sigma_px**2))
    carrier = np.cos(2 * np.pi * along / population.period_px + population.phase + phase_offset)
    filters = envelope * carrier
    filters -= filters.mean(axis=0, keepdims=True) * envelope / envelope.mean(axis=0, keepdims=True)
    filters /= np.linalg.norm(filters, axis=0, keepdims=True)
    # Far tails of the Gaussian would be float32 denormals, which make matrix products ~15x slower.
    filters[np.abs(filters) < 1e-12] = 0.0
    return filters.astype(np.float32)
