"""A trial longer than the model's window is predicted with its history, in evaluation as in predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nwb_v1former.data.stats import Normalizer
from nwb_v1former.data.store import SessionStore
from nwb_v1former.inference.evaluation import predict_trials
from nwb_v1former.inference.windows import model_inputs
from nwb_v1former.model.config import preset
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import convert
from nwb_v1former.simulate import simulate_and_write


@pytest.fixture(scope="module")
def long_trials(tmp_path_factory: pytest.TempPathFactory) -> SessionStore:
    """12-second clips: 360-tick trials, longer than the 300-tick window."""
    root = tmp_path_factory.mktemp("long")
    (session,) = simulate_and_write(
        root / "nwb", layout="allen", progress=False, seed=9, neurons=20, minutes=3.0, clip_seconds=12.0
    )
    return SessionStore(convert([session.data], root / "store", progress=False)[0].folder)


def test_the_ticks_after_the_window_see_the_trial_before_them(long_trials: SessionStore) -> None:
    store = long_trials
    torch.manual_seed(0)
    model = V1Former(preset("tiny"))
    model.add_session(store.key, store.roi_ids, store.coordinates)
    model.eval()
    lengths = store.trials.stop_tick - store.trials.first_tick
    index = int(np.flatnonzero(lengths > 300)[0])
    first, stop = int(store.trials.first_tick[index]), int(store.trials.stop_tick[index])
    (predicted,) = predict_trials(model, store, np.array([index]))
    assert predicted.shape == (stop - first, store.n_neurons)

    normalizer = Normalizer.from_statistics(store.statistics)

    def direct(begin: int, keep_from: int) -> np.ndarray:
        with torch.inference_mode():
            output = model(*model_inputs(store, normalizer, begin, stop), session=store.key)[0]
        return normalizer.responses_inverse(output[keep_from - begin :].numpy())

    late = slice(300, stop - first)
    with_history = direct(first + 300 - 64, first + 300)
    np.testing.assert_allclose(predicted[late], with_history[: stop - first - 300], rtol=1e-4, atol=1e-5)
    without_history = direct(first + 300, first + 300)
    assert not np.allclose(predicted[late], without_history, rtol=1e-3, atol=1e-4)
