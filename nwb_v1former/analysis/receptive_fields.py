"""Spatial receptive fields from the model's gradients: where on the frame each response is sensitive.

The stimulus is white noise blurred by `blur_px`. For every neuron, the squared gradient of its response
at the last frame of a noise clip with respect to the white noise itself (not to the blurred pixels),
summed over frames and averaged over clips, is its sensitivity map (36 x 64). Squaring makes ON and OFF
subfields, and simple and complex cells, alike. Taking the gradient with respect to the noise's own
independent values measures sensitivity at the resolution the stimulus has: the pixel gradient of a
patch-tokenised core is the squared filter of the few patches its readout reads, and the tiny-sim
core's patch filters weigh their border rows and columns 2-4 times more than their inside, so per pixel
the maps were hollow squares on the patch grid, an image of the tokenizer, not of the neuron.

The map is smoothed (Gaussian, `smoothing_px`), its background (median) removed; the centre is the
centroid of the part above half its peak and the radius that of a disc of the same area. The RF
contrast is the share of the (unsmoothed) map within `NEIGHBOURHOOD_RADII` radii of the centre: 0.79
for a Gaussian RF, more for a sharper one, less for one with side lobes or spread, about the disc's
share of the frame (under 0.15) for a map without an RF. Rows and columns are pixels of the 36 x 64
frame (row 0 at the top), with the eye at its mean position.

Each batch element carries one (neuron, clip) pair, so one backward pass gives `batch_size` maps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, model_device
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH
from nwb_v1former.model.model import V1Former

NEIGHBOURHOOD_RADII = 1.5
"""The RF contrast counts the map within this many half-maximum radii of the RF centre: a Gaussian map
has 1 - 2 ** -(1.5 ** 2) = 0.79 of its mass there; a map of noise about the disc's share of the frame."""


@dataclass(frozen=True)
class NoiseConfig:
    """The noise clips: `clips` of `frames` ticks of Gaussian white noise blurred by `blur_px`, scaled to
    `amplitude` training-video standard deviations; maps smoothed by `smoothing_px` before measuring."""

    clips: int = 8
    frames: int = 16
    blur_px: float = 2.0
    amplitude: float = 1.0
    smoothing_px: float = 1.5
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            (self.clips >= 1 and self.frames >= 1, "clips and frames must be at least 1"),
            (self.blur_px >= 0 and self.smoothing_px >= 0, "blur_px and smoothing_px must be >= 0"),
            (self.amplitude > 0, "amplitude must be positive"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.seed >= 0, "seed must be non-negative"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"noise config: {message}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur (..., H, W) images with a Gaussian of `sigma` px, normalised at the borders (no darkening)."""
    if sigma == 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    shape = images.shape
    flat = images.reshape(-1, 1, *shape[-2:])

    def separable(x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, kernel.view(1, 1, -1, 1), padding=(radius, 0))
        return F.conv2d(x, kernel.view(1, 1, 1, -1), padding=(0, radius))

    return (separable(flat) / separable(torch.ones_like(flat[:1]))).reshape(shape)


def noise_clips(config: NoiseConfig) -> tuple[torch.Tensor, float]:
    """The seeded white noise (clips, frames, 36, 64) float32, and the gain that gives it pixel std
    `amplitude` once blurred (`noise_frames`)."""
    generator = torch.Generator().manual_seed(config.seed)
    white = torch.randn(config.clips, config.frames, FRAME_HEIGHT, FRAME_WIDTH, generator=generator)
    return white, float(config.amplitude / gaussian_blur(white, config.blur_px).std())


def noise_frames(white: torch.Tensor, blur_px: float, gain: float) -> torch.Tensor:
    """The frames shown: white noise (..., 36, 64) blurred by `blur_px` and scaled by `gain` (linear)."""
    return gaussian_blur(white, blur_px) * gain


def sensitivity_maps(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    white: torch.Tensor,
    state: BehaviorState,
    *,
    blur_px: float,
    gain: float,
    batch_size: int = 32,
    progress: bool = False,
) -> np.ndarray:
    """Mean over clips of the squared gradient of each neuron's last-frame response with respect to the
    white noise behind the frames, summed over frames.

    columns (M,) output columns of the neurons; white (C, T, 36, 64), shown as `noise_frames(white, blur_px,
    gain)` -> maps (M, 36, 64).
    """
    device = model_device(model)
    model.eval()
    n_clips, frames = white.shape[:2]
    pairs = [(m, c) for m in range(len(columns)) for c in range(n_clips)]
    maps = torch.zeros(len(columns), FRAME_HEIGHT, FRAME_WIDTH, dtype=torch.float64)
    for start in tqdm(range(0, len(pairs), batch_size), desc="gradients", unit="batch", disable=not progress):
        chunk = pairs[start : start + batch_size]
        neuron = torch.tensor([m for m, _ in chunk])
        noise = white[[c for _, c in chunk]][:, None].to(device).requires_grad_(True)
        behavior, pupil = state.inputs(len(chunk), frames, device)
        output = model(noise_frames(noise, blur_px, gain), behavior, pupil, session=session)[:, -1]  # (b, N)
        selected = output[torch.arange(len(chunk)), torch.as_tensor(columns)[neuron].to(device)]
        (gradient,) = torch.autograd.grad(selected.sum(), noise)
        squared = gradient.detach().double().cpu().square().sum(dim=(1, 2))  # (b, H, W)
        maps.index_add_(0, neuron, squared)
    return (maps / n_clips).float().numpy()


def map_geometry(maps: np.ndarray, smoothing_px: float) -> dict[str, np.ndarray]:
    """Centre (row, column), half-maximum radius and contrast of sensitivity maps (M, 36, 64) >= 0.

    Returns center (M, 2), radius_px (M,) and contrast (M,): the share of the map within
    `NEIGHBOURHOOD_RADII` radii of the centre (0.79 for a Gaussian RF; under 0.15 for noise);
    NaN for a map without a peak.
    """
    maps = np.asarray(maps, np.float64)
    smooth = gaussian_blur(torch.from_numpy(maps), smoothing_px).numpy()
    flat = smooth.reshape(len(smooth), -1)
    background = np.median(flat, axis=1, keepdims=True)
    height = flat.max(axis=1, keepdims=True) - background
    rows, columns = np.divmod(np.arange(flat.shape[1]), FRAME_WIDTH)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = (flat - background) / height
        weights = np.where(excess >= 0.5, excess, 0.0)
        total = weights.sum(axis=1)
        center = np.stack([weights @ rows / total, weights @ columns / total], axis=1)
        radius = np.sqrt((excess >= 0.5).sum(axis=1) / np.pi)
        distance = np.hypot(rows - center[:, :1], columns - center[:, 1:])  # (M, H * W)
        near = distance <= NEIGHBOURHOOD_RADII * np.maximum(radius, 1.0)[:, None]
        raw = maps.reshape(len(maps), -1)
        contrast = (raw * near).sum(axis=1) / raw.sum(axis=1)
    defined = (height[:, 0] > 0) & np.isfinite(total) & (total > 0)
    return {
        "center": np.where(defined[:, None], center, np.nan),
        "radius_px": np.where(defined, radius, np.nan),
        "contrast": np.where(defined, contrast, np.nan),
    }


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class ReceptiveFieldResult:
    """Sensitivity maps (M, 36, 64) of M ROIs and their geometry: center (M, 2) as (row, column) pixels,
    radius_px (M,), contrast (M,) (share of the map near the centre; see `map_geometry`)."""

    roi_ids: np.ndarray
    maps: np.ndarray
    center: np.ndarray
    radius_px: np.ndarray
    contrast: np.ndarray
    state: BehaviorState
    config: NoiseConfig
    provenance: AnalysisProvenance

    def table(self) -> ResultTable:
        """One row per ROI: RF centre, radius and contrast, in pixels of the 36 x 64 frame."""
        columns = {
            "roi_id": (
                "ROI id in the session (the PlaneSegmentation id, plane-qualified where planes repeat ids).",
                self.roi_ids,
            ),
            "rf_row": ("RF centre, row of the 36 x 64 model frame (0 = top), pixels.", self.center[:, 0]),
            "rf_column": (
                "RF centre, column of the 36 x 64 model frame (0 = left), pixels.",
                self.center[:, 1],
            ),
            "rf_radius_px": (
                "Radius (pixels) of a disc with the area of the map above half its peak.",
                self.radius_px,
            ),
            "rf_contrast": (
                f"Share of the sensitivity map within {NEIGHBOURHOOD_RADII:g} half-maximum radii of the RF "
                "centre: 0.79 for a Gaussian RF, under 0.15 for a map of noise.",
                self.contrast,
            ),
        }
        description = (
            "In-silico spatial receptive fields: squared gradients of each ROI's response with respect to "
            f"the white noise behind the input frames (blurred by {self.config.blur_px:g} px), over "
            f"{self.config.clips} noise clips, behaviour held at {self.state.name}. "
            f"{self.provenance.describe()}"
        )
        return ResultTable("insilico_receptive_fields", description, columns)

    def summary(self) -> dict[str, Any]:
        finite = np.isfinite(self.radius_px)
        return {
            "rois": len(self.roi_ids),
            "mapped": int(finite.sum()),
            "median_radius_px": float(np.median(self.radius_px[finite])) if finite.any() else None,
            "median_rf_contrast": (float(np.median(self.contrast[finite])) if finite.any() else None),
        }


def map_receptive_fields(
    model: V1Former,
    session: str,
    provenance: AnalysisProvenance,
    *,
    config: NoiseConfig | None = None,
    state: BehaviorState = DEFAULT_STATES[0],
    roi_ids: np.ndarray | None = None,
    progress: bool = False,
) -> ReceptiveFieldResult:
    """Sensitivity maps and RF geometry of the ROIs `roi_ids` (default: every ROI of the readout)."""
    config = config or NoiseConfig()
    readout = np.asarray(model.session(session).roi_ids)
    chosen = readout if roi_ids is None else np.asarray(roi_ids)
    column_of = {int(roi): column for column, roi in enumerate(readout)}
    missing = [int(roi) for roi in chosen if int(roi) not in column_of]
    if missing:
        raise ConfigError(f"ROI ids {missing[:5]} are not in the readout of session {session!r}")
    columns = np.array([column_of[int(roi)] for roi in chosen], dtype=np.int64)
    white, gain = noise_clips(config)
    maps = sensitivity_maps(
        model,
        session,
        columns,
        white,
        state,
        blur_px=config.blur_px,
        gain=gain,
        batch_size=config.batch_size,
        progress=progress,
    )
    geometry = map_geometry(maps, config.smoothing_px)
    return ReceptiveFieldResult(
        roi_ids=chosen,
        maps=maps,
        state=state,
        config=config,
        provenance=provenance,
        **geometry,
    )
