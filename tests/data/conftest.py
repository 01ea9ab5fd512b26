"""Small stores written through StoreWriter, with the trial layout and array values each test chooses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nwb_v1former.data import SessionStore, StoreWriter, Trials, compute_statistics

TrialSpec = list[tuple[int, int, str]]  # (first_tick, stop_tick exclusive, tier) per trial


def make_trials(spec: TrialSpec) -> Trials:
    """A trial table from (first_tick, stop_tick, tier) rows."""
    first, stop, tier = zip(*spec, strict=True) if spec else ((), (), ())
    return Trials(
        first_tick=np.array(first, dtype=np.int64),
        stop_tick=np.array(stop, dtype=np.int64),
        tier=np.array(tier, dtype="<U16"),
        stimulus_id=np.array([f"clip{i}" for i in range(len(spec))], dtype="<U32"),
        source_tier=np.array(tier, dtype="<U32"),
    )


def write_store(
    folder: Path,
    spec: TrialSpec,
    *,
    n_ticks: int,
    n_neurons: int,
    seed: int = 0,
    arrays: dict[str, np.ndarray] | None = None,
) -> SessionStore:
    """Random arrays (overridden by `arrays`), statistics from compute_statistics, opened read-only."""
    rng = np.random.default_rng(seed)
    values = {
        "video": rng.integers(0, 256, (n_ticks, 36, 64), dtype=np.uint8),
        "responses": rng.gamma(2.0, 1.5, (n_ticks, n_neurons)),
        "behavior": rng.normal([5.0, 10.0], [1.0, 3.0], (n_ticks, 2)),
        "pupil_center": rng.normal([1.0, -2.0], [0.5, 0.2], (n_ticks, 2)),
        "times": np.arange(n_ticks) / 30,
        **(arrays or {}),
    }
    writer = StoreWriter(folder, n_ticks, n_neurons)
    for name, value in values.items():
        writer[name][:] = value
    trials = make_trials(spec)
    statistics = compute_statistics(
        writer["video"], writer["responses"], writer["behavior"], writer["pupil_center"], trials
    )
    writer.write_small(
        roi_ids=np.arange(n_neurons),
        coordinates=np.zeros((n_neurons, 3)),
        plane=np.zeros(n_neurons),
        trials=trials,
        statistics=statistics,
        meta={"source": "tests/data"},
    )
    return SessionStore(folder)


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[..., SessionStore]:
    """write_store into tmp_path/<key>."""

    def factory(key: str, spec: TrialSpec, **options) -> SessionStore:
        return write_store(tmp_path / key, spec, **options)

    return factory


@pytest.fixture
def trials_from() -> Callable[[TrialSpec], Trials]:
    """make_trials, for tests that call compute_statistics on plain arrays."""
    return make_trials
