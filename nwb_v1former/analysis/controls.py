"""The controls a designed stimulus is judged against: each neuron's best natural clip and best grating.

Both are chosen by the model, as the designed stimuli are, and shown the way they are: `burn_in` grey
ticks, then `frames` ticks, scored by the mean response from `settle` on. Choosing by the recorded
responses instead would pick clips whose noise happened to be high, which then respond less when shown
again, and flatter the designed stimuli.

- natural: every window of `frames` ticks of the session's training trials (one every `stride` ticks),
  shown after grey; each neuron's control is the window it is predicted to answer most.
- grating: the drifting grating `insilico surround` found best for the neuron (its preferred
  orientation and period in a disc of its preferred diameter, centred on its RF), `frames` ticks long.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from nwb_v1former.analysis.contextual import ContextConfig, centred_gratings
from nwb_v1former.analysis.experiment import BehaviorState, mean_responses
from nwb_v1former.analysis.mei import MEIConfig
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable
from nwb_v1former.analysis.stimulus_space import Screen
from nwb_v1former.data.dataset import window_starts
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError, SessionError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH
from nwb_v1former.model.model import V1Former

CONTROL_ROLES = ("natural", "grating")
"""The roles of control stimuli in a stimulus set (nwb.stimulus_set)."""


@dataclass(frozen=True)
class ControlConfig:
    """Timing as the designed stimuli's (MEIConfig's defaults); `stride` ticks between natural windows;
    `windows_per_batch` windows built at once (memory: about 0.3 MB each)."""

    frames: int = MEIConfig.frames
    burn_in: int = MEIConfig.burn_in
    settle: int = MEIConfig.settle
    stride: int = 10
    windows_per_batch: int = 256
    batch_size: int = 32

    def __post_init__(self) -> None:
        checks = (
            (self.frames >= 1 and self.burn_in >= 0, "frames must be >= 1 and burn_in >= 0"),
            (0 <= self.settle < self.frames, "settle must be in [0, frames)"),
            (self.stride >= 1, "stride must be at least 1"),
            (self.windows_per_batch >= 1 and self.batch_size >= 1, "batch sizes must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"controls config: {message}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GratingParameters:
    """Each ROI's best grating from `insilico surround`: center (M, 2) (row, column) px, orientation
    (M,) deg, period (M,) px, diameter (M,) px (NaN: no response above grey, then the whole screen), and
    the drift and amplitude it was measured with."""

    center: np.ndarray
    orientation_deg: np.ndarray
    period_px: np.ndarray
    diameter_px: np.ndarray
    context: ContextConfig


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class ControlResult:
    """Per targeted ROI (M): its natural control `natural` (M, frames, 36, 64) and grating control
    `grating` (M, frames, 36, 64), both float32 model units; where the natural clip came from (store
    tick and trial); the model's responses to each and to grey (M,)."""

    roi_ids: np.ndarray
    natural: np.ndarray
    natural_tick: np.ndarray
    natural_trial: np.ndarray
    natural_response: np.ndarray
    grating: np.ndarray
    grating_response: np.ndarray
    grey: np.ndarray
    gratings: GratingParameters
    windows: int
    screen: Screen
    state: BehaviorState
    config: ControlConfig
    provenance: AnalysisProvenance

    def pixels(self, role: str) -> np.ndarray:
        """The controls of `role` as the screen shows them; (M, frames, 36, 64) uint8."""
        return self.screen.to_pixels(self.natural if role == "natural" else self.grating)

    def table(self) -> ResultTable:
        columns = {
            "roi_id": ("ROI id in the session (the PlaneSegmentation id).", self.roi_ids),
            "natural_first_tick": (
                "First tick (of the converted session) of the ROI's best natural clip.",
                self.natural_tick,
            ),
            "natural_trial": (
                "Trial (row of the session's trials) the natural clip is from.",
                self.natural_trial,
            ),
            "natural_response": ("Model response to the natural clip after grey.", self.natural_response),
            "grating_orientation_deg": (
                "Orientation of the ROI's best grating, degrees.",
                self.gratings.orientation_deg,
            ),
            "grating_period_px": ("Spatial period of the best grating, pixels.", self.gratings.period_px),
            "grating_diameter_px": (
                "Diameter of the grating's disc, pixels (NaN: the whole screen).",
                self.gratings.diameter_px,
            ),
            "grating_response": ("Model response to the grating after grey.", self.grating_response),
            "grey_response": ("Model response to a grey screen.", self.grey),
        }
        description = (
            f"Controls for designed stimuli, chosen by the model: each ROI's most exciting natural clip of "
            f"{self.windows} training-trial windows of {self.config.frames} ticks, and its best drifting "
            f"grating from `insilico surround`, each shown after {self.config.burn_in} grey ticks with "
            f"behaviour held at {self.state.name}. {self.provenance.describe()}"
        )
        return ResultTable("insilico_controls", description, columns)

    def summary(self) -> dict[str, Any]:
        grey = np.maximum(self.grey, 1e-6)
        return {
            "rois": len(self.roi_ids),
            "natural_windows": self.windows,
            "median_natural_over_grey": float(np.median(self.natural_response / grey)),
            "median_grating_over_grey": float(np.median(self.grating_response / grey)),
        }


def natural_windows(store: SessionStore, config: ControlConfig) -> np.ndarray:
    """First ticks of every `frames`-tick window of the training trials, `stride` apart; (W,) int64."""
    found = window_starts(store.trials, ("train",), config.frames, config.stride)
    if not len(found):
        raise SessionError(
            f"no training trial of {config.frames} ticks or more to take natural clips from",
            where=store.folder,
        )
    return found


def _after_grey(clips: torch.Tensor, burn_in: int) -> torch.Tensor:
    """clips (K, F, 36, 64) -> (K, burn_in + F, 36, 64), grey first."""
    return torch.cat([clips.new_zeros(len(clips), burn_in, FRAME_HEIGHT, FRAME_WIDTH), clips], dim=1)


def _scores(
    model: V1Former, session: str, clips: torch.Tensor, state: BehaviorState, config: ControlConfig
) -> np.ndarray:
    """Responses to clips (K, frames, 36, 64) shown after grey, from `settle` on; (K, N)."""
    shown = _after_grey(clips, config.burn_in)
    return mean_responses(
        model, session, shown, state, start=config.burn_in + config.settle, batch_size=config.batch_size
    )


def best_natural_clips(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    store: SessionStore,
    screen: Screen,
    state: BehaviorState,
    config: ControlConfig,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Each column's most exciting training window: (first tick (M,), its response (M,), windows scored)."""
    starts = natural_windows(store, config)
    best_score = np.full(len(columns), -np.inf)
    best_tick = np.zeros(len(columns), np.int64)
    offsets = np.arange(config.frames)
    batches = range(0, len(starts), config.windows_per_batch)
    for first in tqdm(batches, desc="natural clips", unit="batch", disable=not progress):
        ticks = starts[first : first + config.windows_per_batch]
        clips = torch.as_tensor(screen.from_pixels(np.asarray(store.video)[ticks[:, None] + offsets]))
        scores = _scores(model, session, clips, state, config)[:, columns]  # (K, M)
        top = scores.argmax(axis=0)
        better = scores[top, np.arange(len(columns))] > best_score
        best_score[better] = scores[top, np.arange(len(columns))][better]
        best_tick[better] = ticks[top][better]
    return best_tick, best_score, len(starts)


def grating_clips(gratings: GratingParameters, frames: int) -> torch.Tensor:
    """The best gratings as clips of `frames` ticks; (M, frames, 36, 64) model units."""
    context = dataclasses.replace(gratings.context, frames=frames, settle=0)
    outer = np.where(np.isfinite(gratings.diameter_px), gratings.diameter_px / 2, np.inf)
    return centred_gratings(
        gratings.center, gratings.orientation_deg, gratings.period_px, np.zeros(len(outer)), outer, context
    )


def choose_controls(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    store: SessionStore,
    gratings: GratingParameters,
    provenance: AnalysisProvenance,
    screen: Screen,
    state: BehaviorState,
    *,
    config: ControlConfig | None = None,
    progress: bool = False,
) -> ControlResult:
    """The controls of readout `columns` (M,) (see the module docstring); `gratings` in the same order."""
    config = config or ControlConfig()
    columns = np.asarray(columns, np.int64)
    tick, natural_response, windows = best_natural_clips(
        model, session, columns, store, screen, state, config, progress
    )
    offsets = np.arange(config.frames)
    natural = screen.from_pixels(np.asarray(store.video)[tick[:, None] + offsets])
    grating = grating_clips(gratings, config.frames)
    rows = np.arange(len(columns))
    grating_response = _scores(model, session, grating, state, config)[rows, columns]
    grey = _scores(model, session, torch.zeros(1, config.frames, FRAME_HEIGHT, FRAME_WIDTH), state, config)
    trial = np.searchsorted(store.trials.first_tick, tick, side="right") - 1
    return ControlResult(
        roi_ids=np.asarray(model.session(session).roi_ids)[columns],
        natural=natural,
        natural_tick=tick,
        natural_trial=trial.astype(np.int64),
        natural_response=natural_response.astype(np.float32),
        grating=grating.numpy(),
        grating_response=grating_response,
        grey=grey[0, columns],
        gratings=gratings,
        windows=windows,
        screen=screen,
        state=state,
        config=config,
        provenance=provenance,
    )
