"""Contextual modulation: size tuning and iso- versus cross-oriented surrounds, at each neuron's RF.

Each ROI is shown drifting gratings (at `temporal_hz`) centred on its RF centre, on grey. First its
preferred grating is found among `orientations` x `periods_px` in a disc of `search_radii` RF radii;
then that grating in discs of growing diameter gives the size-tuning curve, its preferred size (the
diameter of the largest response) and the suppression index SI = 1 - R(largest disc) / R(preferred),
on responses above the grey-screen response. Finally the preferred-size disc is surrounded by an
annulus of the same grating (iso) or the orthogonal one (cross); the modulation of each is its
response over the centre alone. Units are the model's (see analysis.experiment); diameters in pixels
of the 36 x 64 frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, mean_responses
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable, finite_median
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH, TICK_RATE_HZ
from nwb_v1former.model.model import V1Former


@dataclass(frozen=True)
class ContextConfig:
    """The grating set; `amplitude` in training-video standard deviations; responses are the mean over
    ticks `settle` .. `frames` - 1."""

    orientations: int = 8
    periods_px: tuple[float, ...] = (8.0, 12.0, 18.0)
    diameters_px: tuple[float, ...] = (4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 80.0)
    search_radii: float = 2.0
    temporal_hz: float = 2.0
    amplitude: float = 1.5
    frames: int = 45
    settle: int = 15
    batch_size: int = 32

    def __post_init__(self) -> None:
        checks = (
            (self.orientations >= 2, "orientations must be at least 2"),
            (len(self.periods_px) > 0 and min(self.periods_px) >= 2, "periods_px must be >= 2 pixels"),
            (len(self.diameters_px) >= 2 and min(self.diameters_px) > 0, "at least 2 positive diameters"),
            (list(self.diameters_px) == sorted(self.diameters_px), "diameters_px must increase"),
            (self.search_radii > 0 and self.amplitude > 0, "search_radii and amplitude must be positive"),
            (0 <= self.settle < self.frames, "settle must be in [0, frames)"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"context config: {message}")

    @property
    def orientations_deg(self) -> np.ndarray:
        return np.arange(self.orientations) * (180.0 / self.orientations)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def centred_gratings(
    center: np.ndarray,
    orientation_deg: np.ndarray,
    period_px: np.ndarray,
    inner_px: np.ndarray,
    outer_px: np.ndarray,
    config: ContextConfig,
) -> torch.Tensor:
    """Drifting gratings in annuli inner <= distance from `center` < outer (radii, px), grey elsewhere;
    every argument (K, ...) -> (K, frames, 36, 64) float32 in model units."""
    rows = torch.arange(FRAME_HEIGHT, dtype=torch.float64)[None, None, :, None]
    columns = torch.arange(FRAME_WIDTH, dtype=torch.float64)[None, None, None, :]
    seconds = torch.arange(config.frames, dtype=torch.float64)[None, :, None, None] / TICK_RATE_HZ

    def per_clip(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, np.float64))[:, None, None, None]

    center = np.asarray(center, np.float64)
    dy, dx = rows - per_clip(center[:, 0]), columns - per_clip(center[:, 1])
    theta = torch.deg2rad(per_clip(orientation_deg))
    along = dx * torch.cos(theta) + dy * torch.sin(theta)
    phase = 2 * np.pi * (along / per_clip(period_px) - config.temporal_hz * seconds)
    distance = torch.sqrt(dx**2 + dy**2)
    inside = (distance >= per_clip(inner_px)) & (distance < per_clip(outer_px))
    return (config.amplitude * torch.sin(phase) * inside).float()


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class ContextResult:
    """Per ROI (M): preferred orientation and period at its RF, size tuning (M, D) above grey, preferred
    diameter, suppression index, and iso / cross surround modulation."""

    roi_ids: np.ndarray
    center: np.ndarray
    orientation_deg: np.ndarray
    period_px: np.ndarray
    size_tuning: np.ndarray
    preferred_diameter_px: np.ndarray
    suppression_index: np.ndarray
    iso_modulation: np.ndarray
    cross_modulation: np.ndarray
    state: BehaviorState
    config: ContextConfig
    provenance: AnalysisProvenance

    def table(self) -> ResultTable:
        columns = {
            "roi_id": ("ROI id in the session (the PlaneSegmentation id).", self.roi_ids),
            "orientation_deg": (
                "Preferred grating orientation at the RF centre, degrees.",
                self.orientation_deg,
            ),
            "period_px": ("Preferred grating period at the RF centre, pixels.", self.period_px),
            "preferred_diameter_px": (
                "Disc diameter of the largest response, pixels.",
                self.preferred_diameter_px,
            ),
            "suppression_index": (
                "1 - R(largest disc) / R(preferred disc), responses above grey (0: no surround suppression).",
                self.suppression_index,
            ),
            "iso_modulation": (
                "Response to the preferred disc with an iso-oriented surround over the disc alone.",
                self.iso_modulation,
            ),
            "cross_modulation": (
                "Response to the preferred disc with a cross-oriented surround over the disc alone.",
                self.cross_modulation,
            ),
        }
        description = (
            f"In-silico size tuning and surround modulation: drifting gratings "
            f"({self.config.temporal_hz:g} Hz, amplitude {self.config.amplitude:g} training-video std) "
            f"centred on each ROI's RF, behaviour held at {self.state.name}. {self.provenance.describe()}"
        )
        return ResultTable("insilico_contextual", description, columns)

    def summary(self) -> dict[str, Any]:
        return {
            "rois": len(self.roi_ids),
            "median_suppression_index": finite_median(self.suppression_index),
            "median_preferred_diameter_px": finite_median(self.preferred_diameter_px),
            "median_iso_modulation": finite_median(self.iso_modulation),
            "median_cross_modulation": finite_median(self.cross_modulation),
        }


def _responses(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    clips: torch.Tensor,
    clip_roi: np.ndarray,
    state: BehaviorState,
    config: ContextConfig,
) -> np.ndarray:
    """Each clip's response of the ROI it was made for; clips (K, T, 36, 64), clip_roi (K,) -> (K,)."""
    means = mean_responses(model, session, clips, state, start=config.settle, batch_size=config.batch_size)
    return means[np.arange(len(clips)), columns[clip_roi]]


def contextual_modulation(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    center: np.ndarray,
    radius_px: np.ndarray,
    provenance: AnalysisProvenance,
    *,
    config: ContextConfig | None = None,
    state: BehaviorState = DEFAULT_STATES[0],
) -> ContextResult:
    """Size tuning and iso / cross surround modulation of readout `columns` (M,) at their RF `center`
    (M, 2) with RF radius `radius_px` (M,) (from `insilico rf`)."""
    config = config or ContextConfig()
    columns, count = np.asarray(columns, np.int64), len(columns)
    grey = mean_responses(
        model, session, torch.zeros(1, config.frames, FRAME_HEIGHT, FRAME_WIDTH), state, start=config.settle
    )[0, columns]

    orientations, periods = np.meshgrid(config.orientations_deg, config.periods_px, indexing="ij")
    grid = np.stack([orientations.ravel(), periods.ravel()], axis=1)  # (G, 2)
    roi = np.repeat(np.arange(count), len(grid))
    search = np.repeat(config.search_radii * np.asarray(radius_px, np.float64), len(grid))
    clips = centred_gratings(
        center[roi],
        np.tile(grid[:, 0], count),
        np.tile(grid[:, 1], count),
        np.zeros(len(roi)),
        search,
        config,
    )
    best = (
        _responses(model, session, columns, clips, roi, state, config)
        .reshape(count, len(grid))
        .argmax(axis=1)
    )
    orientation, period = grid[best, 0], grid[best, 1]

    diameters = np.asarray(config.diameters_px)
    roi = np.repeat(np.arange(count), len(diameters))
    clips = centred_gratings(
        center[roi], orientation[roi], period[roi], np.zeros(len(roi)), np.tile(diameters, count) / 2, config
    )
    sizes = _responses(model, session, columns, clips, roi, state, config).reshape(count, len(diameters))
    above = sizes - grey[:, None]
    peak = above.max(axis=1)
    preferred = diameters[above.argmax(axis=1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(peak > 0, 1 - above[:, -1] / peak, np.nan)

    outer = np.full(count, 2.0 * max(FRAME_HEIGHT, FRAME_WIDTH))
    centre_only = centred_gratings(center, orientation, period, np.zeros(count), preferred / 2, config)
    iso = centre_only + centred_gratings(center, orientation, period, preferred / 2, outer, config)
    cross = centre_only + centred_gratings(center, orientation + 90.0, period, preferred / 2, outer, config)
    rows = np.arange(count)
    alone, with_iso, with_cross = (
        _responses(model, session, columns, clips, rows, state, config) - grey
        for clips in (centre_only, iso, cross)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        iso_modulation = np.where(alone > 0, with_iso / alone, np.nan)
        cross_modulation = np.where(alone > 0, with_cross / alone, np.nan)
    return ContextResult(
        roi_ids=np.asarray(model.session(session).roi_ids)[columns],
        center=np.asarray(center),
        orientation_deg=orientation,
        period_px=period,
        size_tuning=above,
        preferred_diameter_px=np.where(peak > 0, preferred, np.nan),
        suppression_index=index,
        iso_modulation=iso_modulation,
        cross_modulation=cross_modulation,
        state=state,
        config=config,
        provenance=provenance,
    )
