"""Orientation and direction tuning: drifting gratings shown to a fitted model with behaviour held fixed.

Directions are angles of motion in degrees on the frame (0: rightward, 90: downward, i.e. towards
higher rows); a grating's orientation is its direction modulo 180 (the axis of its wave vector, the
simulator's `orientation`). Selectivity is global (vector) selectivity of the baseline-subtracted
responses r(theta) >= 0 at the neuron's preferred spatial and temporal frequency:
OSI = |sum r e^{2i theta}| / sum r, DSI = |sum r e^{i theta}| / sum r (0: untuned, 1: one angle only).
Responses are the model's output in normalised units (responses times each neuron's precision).
Baseline subtraction makes a tiny modulation around the grey-screen response look sharply selective, so
a ROI counts as tuned only when its tuning depth reaches TUNED_DEPTH, and the summary's selectivity
medians are over tuned ROIs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, mean_responses
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable, finite_median
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH, TICK_RATE_HZ
from nwb_v1former.model.model import V1Former

TUNED_DEPTH = 0.1
"""A ROI is tuned when (max - min) / (max + min) of its responses over directions is at least this."""


@dataclass(frozen=True)
class GratingConfig:
    """The grating set: `directions` evenly spaced directions x spatial periods x temporal frequencies.

    Full-field sinusoids of `amplitude` (in training-video standard deviations) around mean luminance,
    each shown for `frames` ticks; the response is the mean over ticks `settle` .. `frames` - 1 (pick
    them so that every temporal frequency completes whole cycles in that span).
    """

    directions: int = 12
    periods_px: tuple[float, ...] = (8.0, 12.0, 18.0)
    temporal_hz: tuple[float, ...] = (1.0, 2.0, 4.0)
    amplitude: float = 1.5
    frames: int = 60
    settle: int = 30
    batch_size: int = 16

    def __post_init__(self) -> None:
        checks = (
            (self.directions >= 4 and self.directions % 2 == 0, "directions must be even and at least 4"),
            (len(self.periods_px) > 0 and min(self.periods_px) >= 2, "periods_px must be >= 2 pixels"),
            (len(self.temporal_hz) > 0 and min(self.temporal_hz) >= 0, "temporal_hz must be >= 0"),
            (self.amplitude > 0, "amplitude must be positive"),
            (0 <= self.settle < self.frames, "settle must be in [0, frames)"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"grating config: {message}")

    @property
    def directions_deg(self) -> np.ndarray:
        """(D,) float64: 0, 360 / D, ..."""
        return np.arange(self.directions) * (360.0 / self.directions)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def grating_clips(config: GratingConfig) -> torch.Tensor:
    """Every grating of `config`; (D * P * F, frames, 36, 64) float32, by direction, period, frequency."""
    rows, columns = torch.meshgrid(
        torch.arange(FRAME_HEIGHT, dtype=torch.float64),
        torch.arange(FRAME_WIDTH, dtype=torch.float64),
        indexing="ij",
    )
    seconds = torch.arange(config.frames, dtype=torch.float64)[:, None, None] / TICK_RATE_HZ
    clips = []
    for direction in np.deg2rad(config.directions_deg):
        along = columns * math.cos(direction) + rows * math.sin(direction)
        for period in config.periods_px:
            for frequency in config.temporal_hz:
                phase = 2 * math.pi * (along / period - frequency * seconds)
                clips.append(config.amplitude * torch.sin(phase))
    return torch.stack(clips).float()


def angle_difference(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    """a - b wrapped into [-period / 2, period / 2) (e.g. period 180 for orientations in degrees)."""
    return (np.asarray(a) - np.asarray(b) + period / 2) % period - period / 2


def vector_selectivity(curves: np.ndarray, directions_deg: np.ndarray) -> dict[str, np.ndarray]:
    """Global OSI / DSI and preferred orientation / direction (degrees) of tuning curves (D, N) >= 0.

    Returns (N,) arrays osi, dsi, preferred_orientation_deg in [0, 180), preferred_direction_deg in
    [0, 360); NaN for a neuron that responds to no direction.
    """
    theta = np.deg2rad(directions_deg)[:, None]
    total = curves.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        second = (curves * np.exp(2j * theta)).sum(axis=0) / total
        first = (curves * np.exp(1j * theta)).sum(axis=0) / total
    silent = ~(total > 0)
    result = {
        "osi": np.abs(second),
        "dsi": np.abs(first),
        "preferred_orientation_deg": np.rad2deg(np.angle(second) / 2) % 180.0,
        "preferred_direction_deg": np.rad2deg(np.angle(first)) % 360.0,
    }
    return {name: np.where(silent, np.nan, values) for name, values in result.items()}


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class TuningResult:
    """Responses to every grating in every behaviour state, and each neuron's tuning (S states, N ROIs).

    responses (S, D, P, F, N) float32 -- mean response per direction, period and temporal frequency;
    baseline (S, N) -- response to a grey screen; preferred_period_px, preferred_temporal_hz (N,) --
    the combination whose best direction drives the neuron most (averaged over states);
    osi, dsi, preferred_orientation_deg, preferred_direction_deg, peak_response (S, N) -- at that
    combination, per state; depth (S, N) -- (max - min) / (max + min) of the responses over directions
    there: near 0, the ROI hardly cares about direction and its OSI / DSI describe noise.
    """

    roi_ids: np.ndarray
    states: tuple[BehaviorState, ...]
    config: GratingConfig
    responses: np.ndarray
    baseline: np.ndarray
    preferred_period_px: np.ndarray
    preferred_temporal_hz: np.ndarray
    osi: np.ndarray
    dsi: np.ndarray
    preferred_orientation_deg: np.ndarray
    preferred_direction_deg: np.ndarray
    peak_response: np.ndarray
    depth: np.ndarray
    provenance: AnalysisProvenance

    @property
    def tuned(self) -> np.ndarray:
        """(S, N) bool: depth >= TUNED_DEPTH, i.e. OSI and DSI describe a real preference."""
        return np.nan_to_num(self.depth) >= TUNED_DEPTH

    def modulation_index(self, state: int) -> np.ndarray:
        """(N,) (peak_s - peak_0) / (peak_s + peak_0): how state `state` scales responses vs the first."""
        peak, reference = self.peak_response[state], self.peak_response[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (peak - reference) / (peak + reference)

    def table(self) -> ResultTable:
        """One row per ROI: preferred stimulus, per-state selectivity, changes against the first state."""
        columns: dict[str, tuple[str, np.ndarray]] = {
            "roi_id": (
                "ROI id in the session (the PlaneSegmentation id, plane-qualified where planes repeat ids).",
                self.roi_ids,
            ),
            "preferred_period_px": (
                "Spatial period (pixels of the 36 x 64 frame) of the grating set driving the ROI most.",
                self.preferred_period_px,
            ),
            "preferred_temporal_hz": (
                "Temporal frequency (Hz) of the grating set driving the ROI most.",
                self.preferred_temporal_hz,
            ),
        }
        reference = self.states[0].name
        for index, state in enumerate(self.states):
            held = (
                f"behaviour held at {state.name} (pupil size {state.pupil_size:.3g}, running speed "
                f"{state.running_speed:.3g}, normalised)"
            )
            columns.update(
                {
                    f"{state.name}_osi": (f"Global orientation selectivity index, {held}.", self.osi[index]),
                    f"{state.name}_dsi": (f"Global direction selectivity index, {held}.", self.dsi[index]),
                    f"{state.name}_preferred_orientation_deg": (
                        f"Preferred orientation (axis of motion, degrees, 0 = horizontal motion), {held}.",
                        self.preferred_orientation_deg[index],
                    ),
                    f"{state.name}_preferred_direction_deg": (
                        f"Preferred direction of motion (degrees, 0 rightward, 90 downward), {held}.",
                        self.preferred_direction_deg[index],
                    ),
                    f"{state.name}_tuning_depth": (
                        f"(max - min) / (max + min) of the responses over directions, {held}.",
                        self.depth[index],
                    ),
                    f"{state.name}_tuned": (
                        f"Tuning depth >= {TUNED_DEPTH:g}: OSI and DSI describe a real preference, {held}.",
                        self.tuned[index],
                    ),
                    f"{state.name}_peak_response": (
                        f"Response to the preferred grating (model units), {held}.",
                        self.peak_response[index],
                    ),
                    f"{state.name}_baseline_response": (
                        f"Response to a grey screen (model units), {held}.",
                        self.baseline[index],
                    ),
                }
            )
            if index == 0:
                continue
            columns.update(
                {
                    f"{state.name}_modulation_index": (
                        f"(peak {state.name} - peak {reference}) / (peak {state.name} + peak {reference}).",
                        self.modulation_index(index),
                    ),
                    f"{state.name}_osi_change": (
                        f"OSI {state.name} minus OSI {reference}.",
                        self.osi[index] - self.osi[0],
                    ),
                    f"{state.name}_orientation_shift_deg": (
                        f"Preferred orientation {state.name} minus {reference}, wrapped to [-90, 90).",
                        angle_difference(
                            self.preferred_orientation_deg[index], self.preferred_orientation_deg[0], 180
                        ),
                    ),
                }
            )
        description = (
            f"In-silico drifting-grating tuning of each ROI ({self.config.directions} directions, periods "
            f"{list(self.config.periods_px)} px, {list(self.config.temporal_hz)} Hz, amplitude "
            f"{self.config.amplitude:g} video std). {self.provenance.describe()}"
        )
        return ResultTable("insilico_tuning", description, columns)

    def summary(self) -> dict[str, Any]:
        """Per state: tuned ROIs and their median selectivity, every ROI's median tuning depth; against the
        first state, the median modulation (every ROI) and orientation shift (ROIs tuned in both)."""
        summary: dict[str, Any] = {"rois": len(self.roi_ids), "tuned_depth": TUNED_DEPTH}
        tuned = self.tuned
        for index, state in enumerate(self.states):
            summary[state.name] = {
                "tuned_rois": int(tuned[index].sum()),
                "median_osi": finite_median(self.osi[index][tuned[index]]),
                "median_dsi": finite_median(self.dsi[index][tuned[index]]),
                "median_tuning_depth": finite_median(self.depth[index]),
            }
            if index:
                both = tuned[index] & tuned[0]
                shift = angle_difference(
                    self.preferred_orientation_deg[index], self.preferred_orientation_deg[0], 180
                )
                summary[state.name]["median_modulation_index"] = finite_median(self.modulation_index(index))
                summary[state.name]["median_abs_orientation_shift_deg"] = finite_median(np.abs(shift[both]))
        return summary


def measure_tuning(
    model: V1Former,
    session: str,
    provenance: AnalysisProvenance,
    *,
    config: GratingConfig | None = None,
    states: tuple[BehaviorState, ...] = DEFAULT_STATES,
    progress: bool = False,
) -> TuningResult:
    """Show every grating of `config` (and a grey screen) in every behaviour state; tune each neuron."""
    config = config or GratingConfig()
    if not states or len({state.name for state in states}) != len(states):
        raise ConfigError("give at least one behaviour state, each with its own name")
    roi_ids = np.asarray(model.session(session).roi_ids)
    clips = torch.cat([grating_clips(config), torch.zeros(1, config.frames, FRAME_HEIGHT, FRAME_WIDTH)])
    shape = (config.directions, len(config.periods_px), len(config.temporal_hz), len(roi_ids))
    responses, baseline = [], []
    for state in states:
        mean = mean_responses(
            model, session, clips, state, start=config.settle, batch_size=config.batch_size, progress=progress
        )  # (clips, N)
        responses.append(mean[:-1].reshape(shape))
        baseline.append(mean[-1])
    responses_array, baseline_array = np.stack(responses), np.stack(baseline)
    evoked = np.clip(responses_array - baseline_array[:, None, None, None], 0, None)
    drive = evoked.max(axis=1).mean(axis=0)  # (P, F, N): best direction, averaged over states
    best = drive.reshape(-1, len(roi_ids)).argmax(axis=0)
    period_index, frequency_index = np.unravel_index(best, drive.shape[:2])
    neurons = np.arange(len(roi_ids))
    curves = evoked[:, :, period_index, frequency_index, neurons]  # (S, D, N)
    per_state = [vector_selectivity(curve, config.directions_deg) for curve in curves]
    raw = responses_array[:, :, period_index, frequency_index, neurons]  # (S, D, N)
    peak, trough = raw.max(axis=1), raw.min(axis=1)
    return TuningResult(
        roi_ids=roi_ids,
        states=tuple(states),
        config=config,
        responses=responses_array.astype(np.float32),
        baseline=baseline_array.astype(np.float32),
        preferred_period_px=np.asarray(config.periods_px, np.float64)[period_index],
        preferred_temporal_hz=np.asarray(config.temporal_hz, np.float64)[frequency_index],
        osi=np.stack([s["osi"] for s in per_state]),
        dsi=np.stack([s["dsi"] for s in per_state]),
        preferred_orientation_deg=np.stack([s["preferred_orientation_deg"] for s in per_state]),
        preferred_direction_deg=np.stack([s["preferred_direction_deg"] for s in per_state]),
        peak_response=peak.astype(np.float64),
        depth=((peak - trough) / (peak + trough)).astype(np.float64),
        provenance=provenance,
    )
