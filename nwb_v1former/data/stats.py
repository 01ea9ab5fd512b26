"""Training-tier statistics of a session and the normalisation ViV1T builds from them.

Statistics are taken over training trials AND time (every tick inside a "train" trial), streamed
block by block in float64, so a memory-mapped store is never loaded or copied whole.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from nwb_v1former.data.store import Trials
from nwb_v1former.errors import SessionError

BLOCK_VALUES = 1 << 21  # values per float64 block (16 MiB)
RESPONSE_STD_FLOOR = 0.01  # responses std floored at this fraction of the mean std (ViV1T)
STATISTIC_KEYS = (
    "video_mean",
    "video_std",
    "responses_mean",
    "responses_std",
    "behavior_mean",
    "behavior_std",
    "pupil_center_mean",
    "pupil_center_std",
)

Array = Any  # np.ndarray or torch.Tensor; torch is only imported by whoever passes a tensor


class _Moments:
    """Running count, mean and sum of squared deviations, merged block by block (Chan et al.)."""

    def __init__(self, reduce_all: bool) -> None:
        self.reduce_all = reduce_all
        self.count = 0
        self.mean: np.ndarray | float = 0.0
        self.m2: np.ndarray | float = 0.0

    def update(self, block: np.ndarray) -> None:
        """Merge `block` (ticks, ...): over all its values if reduce_all, else over ticks only."""
        values = np.asarray(block, dtype=np.float64)
        axis = None if self.reduce_all else 0
        count = values.size if self.reduce_all else values.shape[0]
        mean = values.mean(axis=axis)
        m2 = np.square(values - mean).sum(axis=axis)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * count / total)
        self.count = total

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population standard deviation (ddof 0), as float32."""
        std = np.sqrt(np.asarray(self.m2) / self.count)
        return np.asarray(self.mean, dtype=np.float32), std.astype(np.float32)


def statistic_ranges(trials: Trials, n_ticks: int) -> list[tuple[int, int]]:
    """Disjoint [start, stop) tick ranges of the train trials (of all trials if none is "train")."""
    selected = trials.tier == "train"
    if not selected.any():
        selected = np.ones(len(trials), dtype=bool)
    mask = np.zeros(n_ticks + 2, dtype=np.int8)  # padded, so every run has a rising and a falling edge
    for first, stop in zip(trials.first_tick[selected], trials.stop_tick[selected], strict=True):
        mask[1 + max(int(first), 0) : 1 + min(int(stop), n_ticks)] = 1
    edges = np.flatnonzero(np.diff(mask))
    return [(int(start), int(stop)) for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def compute_statistics(
    video: np.ndarray,
    responses: np.ndarray,
    behavior: np.ndarray,
    pupil_center: np.ndarray,
    trials: Trials,
) -> dict[str, np.ndarray]:
    """Means and stds over the train trials' ticks: video (scalar), responses (N,), behavior and pupil (2,).

    video: (T, 36, 64) uint8; responses: (T, N) float32; behavior, pupil_center: (T, 2) float32.
    Returns float32 arrays keyed as in STATISTIC_KEYS; video_* are 0-d.
    """
    ranges = statistic_ranges(trials, len(responses))
    if not ranges:
        raise SessionError(
            f"no trial covers any of the {len(responses)} ticks; statistics need at least one trial "
            "(check the trial table of the session)"
        )
    arrays = {"video": video, "responses": responses, "behavior": behavior, "pupil_center": pupil_center}
    statistics = {}
    for name, array in arrays.items():
        moments = _Moments(reduce_all=name == "video")
        rows = max(1, BLOCK_VALUES // max(1, int(np.prod(array.shape[1:]))))
        for start, stop in ranges:
            for block_start in range(start, stop, rows):
                moments.update(array[block_start : min(block_start + rows, stop)])
        statistics[f"{name}_mean"], statistics[f"{name}_std"] = moments.mean_std()
    return statistics


def _nonzero(std: np.ndarray) -> np.ndarray:
    """`std` with zeros (constant channels) replaced by 1, so dividing leaves them unscaled."""
    std = np.asarray(std, dtype=np.float32)
    return np.where(std > 0, std, np.float32(1)).astype(np.float32)


def _torch(x: Array) -> ModuleType | None:
    """The torch module if x is a tensor, else None (a tensor implies torch is already imported)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(x, torch.Tensor) else None


def _like(parameter: np.ndarray, x: Array) -> Array:
    """`parameter` as a tensor on x's device and dtype when x is a tensor, else unchanged."""
    torch = _torch(x)
    return parameter if torch is None else torch.as_tensor(parameter, device=x.device, dtype=x.dtype)


def _float_copy(x: Array) -> Array:
    """A float copy of x, safe to change in place: float32 for numpy, float dtype kept for tensors."""
    if _torch(x) is None:
        return np.array(x, dtype=np.float32)
    return x.clone() if x.is_floating_point() else x.float()


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class Normalizer:
    """ViV1T's normalisation; works on numpy arrays and torch tensors, channels on the LAST axis.

    video_mean, video_std: (), float32; behavior_std: (2,); pupil_center_mean, pupil_center_std: (2,);
    responses_std: (N,), already floored (see `from_statistics`). Zero stds are stored as 1.
    """

    video_mean: np.ndarray
    video_std: np.ndarray
    behavior_std: np.ndarray
    pupil_center_mean: np.ndarray
    pupil_center_std: np.ndarray
    responses_std: np.ndarray

    @classmethod
    def from_statistics(cls, statistics: dict[str, np.ndarray]) -> Normalizer:
        """From `compute_statistics` output; responses std floored at 0.01 x its mean over neurons."""
        missing = [key for key in STATISTIC_KEYS if key not in statistics]
        if missing:
            raise SessionError(
                f"statistics lack {', '.join(missing)}; convert the session again with this version"
            )
        responses_std = np.asarray(statistics["responses_std"], dtype=np.float32)
        floor = RESPONSE_STD_FLOOR * responses_std.mean() if responses_std.size else 0.0
        return cls(
            video_mean=np.asarray(statistics["video_mean"], dtype=np.float32),
            video_std=_nonzero(statistics["video_std"]),
            behavior_std=_nonzero(statistics["behavior_std"]),
            pupil_center_mean=np.asarray(statistics["pupil_center_mean"], dtype=np.float32),
            pupil_center_std=_nonzero(statistics["pupil_center_std"]),
            responses_std=_nonzero(np.maximum(responses_std, np.float32(floor))),
        )

    @property
    def responses_precision(self) -> np.ndarray:
        """(N,) float32: 1 / floored std, the per-neuron factor applied to responses."""
        return (1 / self.responses_std).astype(np.float32)

    def video(self, video: Array) -> Array:
        """(..., H, W) uint8 or float -> same shape, float: (x - mean) / std."""
        out = _float_copy(video)
        out -= _like(self.video_mean, out)
        out /= _like(self.video_std, out)
        return out

    def behavior(self, behavior: Array) -> Array:
        """(..., 2) pupil size, running speed -> (..., 2) divided by std (not centred)."""
        out = _float_copy(behavior)
        out /= _like(self.behavior_std, out)
        return out

    def pupil_center(self, pupil_center: Array) -> Array:
        """(..., 2) horizontal, vertical -> (..., 2) z-scored."""
        out = _float_copy(pupil_center)
        out -= _like(self.pupil_center_mean, out)
        out /= _like(self.pupil_center_std, out)
        return out

    def responses(self, responses: Array) -> Array:
        """(..., N) -> (..., N) multiplied by the per-neuron precision."""
        out = _float_copy(responses)
        out *= _like(self.responses_precision, out)
        return out

    def responses_inverse(self, responses: Array) -> Array:
        """(..., N) normalised responses or predictions -> (..., N) on the store's scale."""
        out = _float_copy(responses)
        out *= _like(self.responses_std, out)
        return out
