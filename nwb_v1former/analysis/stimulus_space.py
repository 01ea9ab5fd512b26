"""Where optimised stimuli live: Fourier coefficients, whitened towards natural movies' 1/f spectrum,
bounded into the screen's range by a sigmoid and scaled to a contrast budget; and how far a stimulus'
spectrum lies from the movies' (its shape: log amplitude over rings of spatial frequency).

Values are in the model's units (see analysis.experiment): 0 is mean luminance (grey), 1 is one
training-video standard deviation. A `Screen` says where black and white lie in those units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH

PIXEL_RANGE = (0.0, 255.0)
"""The screen's 8-bit range, in which stimuli are exported."""


@dataclass(frozen=True)
class Screen:
    """The screen in model units: pixel = mean + std * value; black and white bound every stimulus."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (self.std > 0 and PIXEL_RANGE[0] < self.mean < PIXEL_RANGE[1]):
            raise ConfigError(f"screen: mean {self.mean} must lie inside {PIXEL_RANGE} and std be > 0")

    @classmethod
    def from_normalizer(cls, normalizer: Normalizer) -> Screen:
        return cls(float(normalizer.video_mean), float(normalizer.video_std))

    @property
    def bounds(self) -> tuple[float, float]:
        """(black, white) in model units."""
        return tuple((value - self.mean) / self.std for value in PIXEL_RANGE)  # type: ignore[return-value]

    def to_pixels(self, values: np.ndarray) -> np.ndarray:
        """Model units (...) -> uint8 pixels (...)."""
        return np.clip(np.rint(self.mean + self.std * values), *PIXEL_RANGE).astype(np.uint8)

    def from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (...) -> model units (...) float32."""
        return ((np.asarray(pixels, np.float32) - self.mean) / self.std).astype(np.float32)


def spectrum_weights(decay: float, frames: int) -> torch.Tensor:
    """Amplitude 1 / f ** decay over the (frames, 36, 33) half spectrum, f in cycles per frame width
    (spatial) and the time axis alike, normalised to mean 1; (frames, 36, 33) float32."""
    ft = torch.fft.fftfreq(frames)[:, None, None]
    fy = torch.fft.fftfreq(FRAME_HEIGHT)[None, :, None]
    fx = torch.fft.rfftfreq(FRAME_WIDTH)[None, None, :]
    frequency = torch.sqrt(ft**2 + fy**2 + fx**2) + 1.0 / FRAME_WIDTH
    weights = frequency ** (-decay)
    return (weights / weights.mean()).float()


def initial_coefficients(count: int, frames: int, generator: torch.Generator, scale: float) -> torch.Tensor:
    """Random starts: (count, frames, 36, 33, 2) float32 real and imaginary parts."""
    shape = (count, frames, FRAME_HEIGHT, FRAME_WIDTH // 2 + 1, 2)
    return scale * torch.randn(shape, generator=generator)


def synthesise(
    coefficients: torch.Tensor,
    weights: torch.Tensor,
    screen: Screen,
    contrast: float,
    mask: torch.Tensor | None = None,
    fixed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Stimuli from coefficients: inverse FFT (time and space), a sigmoid into the screen's range
    (grey at 0), then scaled towards grey until the RMS over the optimised pixels is at most `contrast`.

    coefficients (B, F, 36, 33, 2); weights (F, 36, 33); mask (B, 36, 64) in [0, 1] (1: optimised),
    with `fixed` (B, F, 36, 64) shown where the mask is 0 -> (B, F, 36, 64) float32 in model units.
    """
    spectrum = torch.view_as_complex(coefficients.contiguous()) * weights
    raw = torch.fft.irfftn(spectrum, s=(coefficients.shape[1], FRAME_HEIGHT, FRAME_WIDTH), dim=(1, 2, 3))
    raw = raw * math.sqrt(raw.shape[1] * FRAME_HEIGHT * FRAME_WIDTH)  # unit variance per coefficient
    black, white = screen.bounds
    offset = math.log(-black / white)  # sigmoid(0 + offset) lands on grey
    bounded = black + (white - black) * torch.sigmoid(raw + offset)
    weight = torch.ones_like(bounded[:, :1]) if mask is None else mask[:, None]  # (B, 1, 36, 64)
    area = weight.sum(dim=(1, 2, 3)) * bounded.shape[1]
    rms = torch.sqrt((bounded**2 * weight).sum(dim=(1, 2, 3)) / area + 1e-12)
    scaled = bounded * torch.clamp(contrast / rms, max=1.0)[:, None, None, None]
    if mask is None:
        return scaled
    return scaled * mask[:, None] + (0.0 if fixed is None else fixed * (1 - mask[:, None]))


def spectral_slope(images: np.ndarray) -> np.ndarray:
    """Slope of log amplitude over log spatial frequency (natural images: about -1); (B, 36, 64) -> (B,)."""
    spectrum = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True)))
    fy = np.fft.fftfreq(FRAME_HEIGHT)[:, None]
    fx = np.fft.fftfreq(FRAME_WIDTH)[None, :]
    frequency = np.hypot(fy, fx).ravel()
    keep = (frequency > 0) & (frequency <= 0.5)
    log_f = np.log(frequency[keep])
    log_a = np.log(spectrum.reshape(len(images), -1)[:, keep] + 1e-12)
    slope, _ = np.polyfit(log_f, log_a.T, 1)
    return slope


SPECTRUM_RINGS = 10
"""Log-spaced rings of spatial frequency, from one cycle per frame width to the corner of the spectrum."""


def _ring_of_each_frequency() -> torch.Tensor:
    """The ring of each (36, 33) half-spectrum frequency; -1 for the mean (zero frequency)."""
    fy = torch.fft.fftfreq(FRAME_HEIGHT)[:, None]
    fx = torch.fft.rfftfreq(FRAME_WIDTH)[None, :]
    radius = torch.sqrt(fy**2 + fx**2)
    edges = torch.logspace(math.log10(1.0 / FRAME_WIDTH), math.log10(0.5 * math.sqrt(2)), SPECTRUM_RINGS + 1)
    ring = torch.bucketize(radius, edges[1:-1])
    return torch.where(radius > 0, ring, torch.full_like(ring, -1))


def spectrum_shape(frames: torch.Tensor) -> torch.Tensor:
    """The shape of the spatial amplitude spectrum: log mean amplitude per ring, less its mean over
    rings (so contrast drops out); frames (B, F, 36, 64) -> (B, SPECTRUM_RINGS), differentiable."""
    centred = frames - frames.mean(dim=(-2, -1), keepdim=True)
    amplitude = torch.fft.rfft2(centred).abs().mean(dim=1).flatten(1)  # (B, 36 * 33)
    ring = _ring_of_each_frequency().flatten().to(frames.device)
    keep = ring >= 0
    sums = amplitude.new_zeros(len(frames), SPECTRUM_RINGS).index_add_(1, ring[keep], amplitude[:, keep])
    counts = torch.bincount(ring[keep], minlength=SPECTRUM_RINGS).to(amplitude)
    log = torch.log(sums / counts + 1e-6)
    return log - log.mean(dim=1, keepdim=True)


@dataclass(frozen=True, eq=False)  # array field: compare by identity
class MovieSpectrum:
    """Natural movies' spectrum: `shape` (SPECTRUM_RINGS,), the mean over their frames' shapes, and
    `frame_distance`, the median spectral_distance of a single frame from it (how far the movies' own
    frames lie, the scale a stimulus' distance is read on)."""

    shape: np.ndarray
    frame_distance: float

    @classmethod
    def of_frames(cls, frames: np.ndarray, screen: Screen) -> MovieSpectrum:
        """From movie frames (T, 36, 64) uint8."""
        values = torch.as_tensor(screen.from_pixels(frames))[:, None]
        shape = spectrum_shape(values).mean(dim=0)
        return cls(shape.numpy(), float(spectral_distance(values, shape).median()))


def spectral_distance(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """RMS difference (log amplitude) between the spectrum shapes of frames (B, F, 36, 64) and a
    reference shape (SPECTRUM_RINGS,); (B,). 0: the reference's shape."""
    return torch.sqrt(((spectrum_shape(frames) - reference) ** 2).mean(dim=1) + 1e-12)
