"""Torch datasets over converted sessions: windows inside trials, and a round-robin over sessions.

The sampler decides *which* windows and in what order; the datasets decide *how* one is read
(one slice of each memory map, normalised with the store's training-tier statistics).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import TIERS, SessionStore, Trials
from nwb_v1former.errors import ConfigError, SessionError


def window_starts(
    trials: Trials, tiers: Iterable[str], window: int, stride: int, subset: np.ndarray | None = None
) -> np.ndarray:
    """(n_windows,) int64 first ticks: first_tick, +stride, ... of each selected trial, windows inside it.

    A trial is selected when its tier is in `tiers` and, if given, `subset` (n_trials,) bool is True.
    """
    selected = np.isin(trials.tier, list(tiers))
    if subset is not None:
        selected &= subset
    starts = [
        np.arange(first, stop - window + 1, stride, dtype=np.int64)
        for first, stop in zip(trials.first_tick[selected], trials.stop_tick[selected], strict=True)
    ]
    return np.concatenate([np.empty(0, np.int64), *starts])


def _no_window_message(store: SessionStore, tiers: tuple[str, ...], window: int) -> str:
    """One line: which store, why no window fits, what to do."""
    selected = np.isin(store.trials.tier, tiers)
    names = "/".join(tiers)
    if not selected.any():
        present = ", ".join(sorted(set(store.trials.tier.tolist()))) or "none"
        return f"{store.folder}: no {names} trial (tiers present: {present}); choose tiers the session has"
    longest = int((store.trials.stop_tick[selected] - store.trials.first_tick[selected]).max())
    return (
        f"{store.folder}: no {names} trial has {window} ticks (longest: {longest}); "
        f"use a window of at most {longest} ticks"
    )


INPUTS = ("video", "behavior", "pupil_center")
"""The model's inputs in a window item, in the order the model takes them."""


class WindowDataset(Dataset):
    """Windows of `window` ticks that never cross a trial boundary, from trials of the given tiers.

    `subset` (n_trials,) bool restricts the trials further (e.g. a fraction of the training trials).
    Item: video (1, window, 36, 64) float32 normalised; behavior (2, window) float32 (pupil size,
    running speed, divided by std); pupil_center (2, window) float32 z-scored; responses (window, N)
    float32 times precision; session (str, the store key); first_tick (int, the window's first tick).
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        window: int,
        tiers: Iterable[str] = ("train",),
        stride: int | None = None,
        subset: np.ndarray | None = None,
    ) -> None:
        tiers = (tiers,) if isinstance(tiers, str) else tuple(tiers)
        unknown = sorted(set(tiers) - set(TIERS))
        if unknown or not tiers:
            raise ConfigError(f"tiers {list(tiers)} invalid; choose among {', '.join(TIERS)}")
        stride = window if stride is None else stride
        if window < 1 or stride < 1:
            raise ConfigError(f"window {window} and stride {stride} must be positive tick counts")
        self.store = store
        self.window = window
        self.stride = stride
        self.tiers = tiers
        self.normalizer = Normalizer.from_statistics(store.statistics)
        self.starts = window_starts(store.trials, tiers, window, stride, subset)
        if not len(self.starts):
            raise SessionError(_no_window_message(store, tiers, window))

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.read(index, INPUTS)

    def read(self, index: int, inputs: Iterable[str]) -> dict[str, Any]:
        """Item `index` with only the `inputs` named (of video, behavior, pupil_center; responses,
        session and first_tick always): training from a feature cache reads no video."""
        first = int(self.starts[index])
        ticks = slice(first, first + self.window)
        store, normalizer = self.store, self.normalizer
        readers = {
            "video": lambda: torch.from_numpy(normalizer.video(store.video[ticks])[None]),
            "behavior": lambda: _channels_first(normalizer.behavior(store.behavior[ticks])),
            "pupil_center": lambda: _channels_first(normalizer.pupil_center(store.pupil_center[ticks])),
        }
        return {
            **{name: readers[name]() for name in inputs},
            "responses": torch.from_numpy(normalizer.responses(store.responses[ticks])),
            "session": store.key,
            "first_tick": first,
        }

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the store's folder, not its memory maps (which would pickle as whole arrays)."""
        return {**self.__dict__, "store": self.store.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "store": SessionStore(state["store"])})

    def __repr__(self) -> str:
        return (
            f"WindowDataset({self.store.key!r}: {len(self)} windows of {self.window} ticks, "
            f"stride {self.stride}, tiers {'/'.join(self.tiers)})"
        )


def _channels_first(values: np.ndarray) -> torch.Tensor:
    """(window, C) -> (C, window) contiguous tensor."""
    return torch.from_numpy(np.ascontiguousarray(values.T))


class MultiSessionDataset(Dataset):
    """Several sessions' WindowDatasets, indexed by (session_key, index within that session).

    Sessions have different neuron counts, so a batch must not mix sessions: use batch_size=1 with
    RoundRobinSampler, or batch each session's items separately.
    """

    def __init__(self, datasets: Mapping[str, WindowDataset]) -> None:
        if not datasets:
            raise ConfigError("no sessions given; pass at least one WindowDataset")
        for key, dataset in datasets.items():
            if key != dataset.store.key:
                raise ConfigError(f"session key {key!r} names the store {dataset.store.key!r}; use store.key")
        self.datasets = dict(datasets)

    @property
    def lengths(self) -> dict[str, int]:
        """Windows per session, in the mapping's order."""
        return {key: len(dataset) for key, dataset in self.datasets.items()}

    def __len__(self) -> int:
        return sum(self.lengths.values())

    def __getitem__(self, index: tuple[str, int]) -> dict[str, Any]:
        key, position = index
        return self.datasets[key][position]


class RoundRobinSampler(Sampler[tuple[str, int]]):
    """(session_key, index) pairs: one item of each session in turn, in the dataset's session order.

    An epoch lasts as many rounds as the largest session has windows, so it yields
    n_sessions x max(windows) items: a session with fewer windows starts over (with a fresh
    permutation) each time it runs out, i.e. small sessions are seen several times per epoch.
    With shuffle, each session's order comes from a generator seeded by (seed, epoch, session key):
    the same seed and epoch give the same order; call `set_epoch` before each epoch to change it.
    """

    def __init__(self, dataset: MultiSessionDataset, *, seed: int, shuffle: bool = True) -> None:
        if seed < 0:
            raise ConfigError(f"seed {seed} must be a non-negative integer")
        self.dataset = dataset
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields."""
        if epoch < 0:
            raise ConfigError(f"epoch {epoch} must be a non-negative integer")
        self.epoch = epoch

    def __len__(self) -> int:
        lengths = self.dataset.lengths
        return len(lengths) * max(lengths.values())

    def __iter__(self) -> Iterator[tuple[str, int]]:
        lengths = self.dataset.lengths
        rounds = max(lengths.values())
        orders = {key: self._order(key, length, rounds) for key, length in lengths.items()}
        for position in range(rounds):
            for key, order in orders.items():
                yield key, int(order[position])

    def _order(self, key: str, length: int, rounds: int) -> np.ndarray:
        """(rounds,) indices into one session: its permutations (or 0..length-1) back to back."""
        cycles = -(-rounds // length)
        if not self.shuffle:
            return np.tile(np.arange(length), cycles)[:rounds]
        generator = np.random.default_rng([self.seed, self.epoch, zlib.crc32(key.encode())])
        return np.concatenate([generator.permutation(length) for _ in range(cycles)])[:rounds]
