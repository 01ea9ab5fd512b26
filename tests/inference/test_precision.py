"""What bf16 changes in inference, measured on the shipped tiny-sim model and a new recording of one of
its simulated animals; the heads stay float32; what `auto` picks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.inference.core_source import CoreSource
from nwb_v1former.inference.evaluation import predict_trials, score_trials, tier_trials
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.nwb.convert import convert
from nwb_v1former.precision import bf16_is_fast, core_autocast, resolve_precision
from nwb_v1former.simulate import simulate_and_write
from nwb_v1former.train.finetune import resolve_base

TINY_SIM_ANIMAL = {"seed": 100, "neurons": 400, "clip_seconds": 5.0, "minutes": 1.5}
"""Animal 0 of tiny-sim's training data (nwb_v1former/weights/README.md): its readout fits these ROIs."""
TRIALS = 2

# Measured on 6 test trials (2 CPU cores, no AMX): relative L2 error 1.1e-3, per-neuron correlation of
# bf16 and float32 predictions >= 0.999994, single-trial correlation 0.41427 vs 0.41422. The bounds
# leave room for other machines' bf16 kernels; bf16's own rounding is 2^-8 = 3.9e-3.
MAX_RELATIVE_ERROR = 5e-3
MIN_CORRELATION = 0.9995
MAX_SCORE_DIFFERENCE = 2e-3


@pytest.fixture(scope="module")
def animal(tmp_path_factory: pytest.TempPathFactory) -> tuple[V1Former, SessionStore]:
    root = tmp_path_factory.mktemp("precision")
    (session,) = simulate_and_write(root / "nwb", layout="allen", progress=False, **TINY_SIM_ANIMAL)
    store = SessionStore(convert([session.data], root / "store", progress=False)[0].folder)
    return load_checkpoint(resolve_base("tiny-sim")), store


def test_bf16_predictions_stay_within_the_stated_bound(animal: tuple[V1Former, SessionStore]) -> None:
    model, store = animal
    trials = tier_trials(store, "test")[:TRIALS]
    exact = predict_trials(model, store, trials, core=CoreSource("float32"))
    bf16 = predict_trials(model, store, trials, core=CoreSource("bf16"))
    a, b = np.concatenate(exact), np.concatenate(bf16)
    relative = np.linalg.norm(b - a) / np.linalg.norm(a)
    assert 1e-5 < relative < MAX_RELATIVE_ERROR  # above 0: bf16 did run
    correlation = [np.corrcoef(a[:, n], b[:, n])[0, 1] for n in range(a.shape[1]) if a[:, n].std() > 0]
    assert min(correlation) > MIN_CORRELATION
    scores = [
        score_trials(store, trials, p, "test").summary()["single_trial_correlation"] for p in (exact, bf16)
    ]
    assert abs(scores[0] - scores[1]) < MAX_SCORE_DIFFERENCE


def test_the_heads_run_in_float32_under_bf16_autocast(animal: tuple[V1Former, SessionStore]) -> None:
    """The readout's positions and weights are never rounded to bf16: same output inside autocast."""
    model, store = animal
    torch.manual_seed(0)
    core_output = torch.randn(1, model.config.core.emb_dim, 20, *model.core.grid)
    pupil = torch.randn(1, 2, 20)
    with torch.inference_mode():
        plain = model(None, None, pupil, session=store.key, core_output=core_output)
        with core_autocast(torch.device("cpu"), "bf16"):
            autocast = model(None, None, pupil, session=store.key, core_output=core_output)
    assert autocast.dtype == torch.float32
    torch.testing.assert_close(autocast, plain, rtol=1e-6, atol=1e-6)


def test_auto_is_bf16_only_where_it_is_fast_and_an_explicit_choice_is_kept() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if bf16_is_fast(cpu) else "float32")
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("float32", cpu) == "float32"
    assert not bf16_is_fast(torch.device("meta"))
    with pytest.raises(ConfigError, match="--precision fp16"):
        resolve_precision("fp16", cpu)
