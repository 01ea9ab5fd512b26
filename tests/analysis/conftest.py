"""A fitted simulated animal, made once per test session: animal 0 of the shipped tiny-sim core's
training data (seed 100, 400 neurons, 5-second clips; see nwb_v1former/weights/README.md), recorded
again for 1.5 minutes. The readout `sim-100-000_sim-000` of tiny-sim was fitted to exactly these
neurons; the new recording's held-out test trials say which of them it predicts well."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nwb_v1former.data.store import SessionStore
from nwb_v1former.inference.evaluation import evaluate_session
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import convert
from nwb_v1former.simulate import load_truth, simulate_and_write
from nwb_v1former.train.finetune import resolve_base

TINY_SIM_ANIMAL = {"seed": 100, "neurons": 400, "clip_seconds": 5.0}


@dataclass(frozen=True)
class FittedAnimal:
    """The recording (NWB, store), its truth in the store's ROI order, the model and its test scores."""

    nwb: Path
    store: SessionStore
    truth: dict[str, np.ndarray]
    checkpoint: Path
    model: V1Former
    correlation: np.ndarray

    def best(self, count: int) -> np.ndarray:
        """Columns of the `count` neurons with the highest single-trial correlation on the test trials."""
        return np.argsort(-np.nan_to_num(self.correlation, nan=-np.inf))[:count]


@pytest.fixture(scope="session")
def fitted_animal(tmp_path_factory: pytest.TempPathFactory) -> FittedAnimal:
    root = tmp_path_factory.mktemp("fitted-animal")
    session = simulate_and_write(
        root / "nwb", layout="allen", progress=False, minutes=1.5, **TINY_SIM_ANIMAL
    )[0]
    store = SessionStore(convert([session.data], root / "store", progress=False)[0].folder)
    checkpoint = resolve_base("tiny-sim")
    model = load_checkpoint(checkpoint)
    assert store.key in model.sessions, f"tiny-sim has no readout {store.key}: was it retrained differently?"
    assert np.array_equal(model.sessions[store.key].roi_ids, store.roi_ids)
    truth = load_truth(session.truth)
    assert np.array_equal(truth["roi_ids"], store.roi_ids)  # the simulator's ROI order is the store's
    correlation = evaluate_session(model, store, tier="test").per_neuron["single_trial_correlation"]
    return FittedAnimal(session.data, store, truth, checkpoint, model, correlation)
