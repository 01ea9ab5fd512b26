"""In-silico experiment basics: behaviour held at chosen values, and clips shown to a model in batches.

Everything is in the units the model takes (see nwb_v1former.data.stats.Normalizer): video z-scored
by the training video's mean and std (0 is mean luminance); pupil size and running speed divided by
their training std (not centred); pupil centre z-scored (0 is the mean eye position).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.model.model import V1Former

RUNNING_PERCENTILE = 90.0
"""The `running` state of a session holds running speed at this percentile of its ticks."""


@dataclass(frozen=True)
class BehaviorState:
    """Behaviour held constant while stimuli are shown, in normalised units (see the module docstring)."""

    name: str
    pupil_size: float
    running_speed: float
    pupil_center: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ConfigError(f"behaviour state name {self.name!r} must be a word (letters, digits, '_')")
        if self.pupil_size < 0 or self.running_speed < 0:
            raise ConfigError(f"behaviour state {self.name!r}: pupil size and running speed must be >= 0")

    def inputs(self, batch: int, frames: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """behavior (B, 2, T) = [pupil size, running speed] and pupil_center (B, 2, T), constant in time."""
        behavior = torch.tensor([self.pupil_size, self.running_speed], dtype=torch.float32, device=device)
        pupil = torch.tensor(self.pupil_center, dtype=torch.float32, device=device)
        return behavior[None, :, None].expand(batch, 2, frames), pupil[None, :, None].expand(batch, 2, frames)


DEFAULT_STATES = (
    BehaviorState("still", pupil_size=4.0, running_speed=0.0),
    BehaviorState("running", pupil_size=4.0, running_speed=2.0),
)
"""Without a session's data: pupil at 4 (a typical mean / std of pupil size), running at 0 or 2 std."""


def session_states(store: SessionStore) -> tuple[BehaviorState, BehaviorState]:
    """`still` and `running` states of one session: its median pupil size, speed 0 or its 90th percentile.

    Only running speed differs, so comparing the two states isolates the effect of running.
    """
    behavior = Normalizer.from_statistics(store.statistics).behavior(np.asarray(store.behavior))
    pupil = float(np.nanmedian(behavior[:, 0]))
    running = float(np.nanpercentile(behavior[:, 1], RUNNING_PERCENTILE))
    return (
        BehaviorState("still", pupil_size=pupil, running_speed=0.0),
        BehaviorState("running", pupil_size=pupil, running_speed=max(running, 0.0)),
    )


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's weights (parameters, else buffers)."""
    return next(itertools.chain(model.parameters(), model.buffers())).device


@torch.inference_mode()
def mean_responses(
    model: V1Former,
    session: str,
    clips: torch.Tensor,
    state: BehaviorState,
    *,
    start: int = 0,
    batch_size: int = 16,
    progress: bool = False,
) -> np.ndarray:
    """Show every clip with behaviour held at `state`; each neuron's mean response from frame `start` on.

    clips (K, T, 36, 64) normalised -> (K, N) float32 in the model's output units.
    """
    device = model_device(model)
    model.eval()
    means = []
    starts = range(0, len(clips), batch_size)
    for first in tqdm(starts, desc=f"clips ({state.name})", unit="batch", disable=not progress):
        video = clips[first : first + batch_size, None].to(device)
        behavior, pupil = state.inputs(video.shape[0], video.shape[2], device)
        output = model(video, behavior, pupil, session=session)[:, start:]
        means.append(output.float().mean(dim=1).cpu().numpy())
    return np.concatenate(means)
