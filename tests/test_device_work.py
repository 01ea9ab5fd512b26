"""Device work stays on its device: training (through the core and from the feature cache), predict,
evaluate and an in-silico experiment run with the model and inputs on PyTorch's `meta` device.

A meta tensor has a shape and no values: an op that mixes a CPU tensor into it fails ("Tensor on device
cpu is not on the expected device meta"), as it would on a GPU, and so does any hidden read of a value
by the host (`float(t)`, `.item()`, `if t:`), which on a GPU would wait for it. The one way out is an
explicit host copy (`.cpu()`, `.to("cpu")`), which `HostCopies` answers with zeros of the right shape,
so each command runs to its end and everything the host then does is real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from nwb_v1former import __version__
from nwb_v1former.analysis.experiment import BehaviorState, mean_responses
from nwb_v1former.data.store import SessionStore, open_stores
from nwb_v1former.inference.evaluation import evaluate_session
from nwb_v1former.inference.windows import predict_session
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.run_folder import EVALUATION, RunFolder
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Worker
from nwb_v1former.train.feature_cache import CacheConfig
from nwb_v1former.train.finetune import load_base, model_for_finetune
from nwb_v1former.train.loop import Trainer
from nwb_v1former.train.run_config import RunConfig
from nwb_v1former.train.sessions import training_sessions

META = torch.device("meta")
pytestmark = pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter:UserWarning")
"""Best weights loaded into a meta model are a no-op, as torch warns: the weights are not the point."""


class HostCopies(TorchFunctionMode):
    """Explicit copies of a meta tensor to the host give zeros of its shape and dtype (a meta tensor
    has no values); everything else runs as torch runs it."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        source = args[0] if args and isinstance(args[0], torch.Tensor) else None
        to_host = func is torch.Tensor.cpu or (func is torch.Tensor.to and _to_cpu(args[1:], kwargs))
        if to_host and source is not None and source.device.type == "meta":
            return torch.zeros(source.shape, dtype=_dtype(args[1:], kwargs) or source.dtype)
        return func(*args, **kwargs)


def _to_cpu(args: tuple, kwargs: dict) -> bool:
    targets = [a for a in (*args, kwargs.get("device")) if isinstance(a, str | torch.device)]
    return bool(targets) and torch.device(targets[0]).type == "cpu"


def _dtype(args: tuple, kwargs: dict) -> torch.dtype | None:
    return next((a for a in (*args, kwargs.get("dtype")) if isinstance(a, torch.dtype)), None)


def fit_on_meta(
    store_folder: Path, run: Path, *, cached: bool, strategy: str = "readout", batch_size: int = 1
) -> dict[str, Any]:
    """One epoch of a finetune of the shipped core with the model on meta (the feature cache, when on,
    built from it: zeros, as the host copies of its output are); the run's evaluation."""
    stores = open_stores(store_folder)
    config = TrainConfig(
        strategy=strategy, max_epochs=1, warmup_steps=1, window=60, seed=1, batch_size=batch_size
    )
    base, _ = load_base("tiny-sim")
    model = model_for_finetune(base, stores, "tiny-sim")
    sessions = training_sessions(stores, config, model.config.window)
    folder = RunFolder(run)
    folder.prepare(resume=False, overwrite=False)
    cache = CacheConfig() if cached else None
    folder.write_config(
        RunConfig(
            command="finetune",
            code_version=__version__,
            model=model.config,
            train=config,
            window=sessions[0].windows.window,
            stores=tuple(str(store.folder) for store in stores),
            provenance=Provenance(),
            feature_cache=cache,
        ).to_dict()
    )
    trainer = Trainer(
        model.to(META),
        sessions,
        config,
        folder,
        worker=Worker(0, 1, META),
        provenance=Provenance(),
        feature_cache=cache,
    )
    with HostCopies():
        result = trainer.fit()
    assert result.epochs == 1 and (run / EVALUATION).is_file()
    assert (run / "feature-cache").is_dir() == cached
    return result.evaluation


@pytest.mark.parametrize(
    ("strategy", "cached"),
    [("readout", True), ("readout", False), ("full", False)],
    ids=["feature-cache", "through-the-frozen-core", "training-the-core"],
)
def test_training_keeps_its_work_on_the_device(
    one_store: Path, tmp_path: Path, strategy: str, cached: bool
) -> None:
    evaluation = fit_on_meta(one_store, tmp_path / "run", cached=cached, strategy=strategy)
    assert set(evaluation["sessions"]) == {SessionStore(one_store).key}


def test_an_epoch_without_a_step_ends_without_a_loss(one_store: Path, tmp_path: Path) -> None:
    """The recipe refuses a batch larger than every session before any work (tests/train/test_recipe.py);
    the loop itself, given one, ends its epoch with no step and no loss, never an UnboundLocalError."""
    fit_on_meta(one_store, tmp_path / "run", cached=False, batch_size=10_000)
    (row,) = RunFolder(tmp_path / "run").metrics()
    assert (row["step"], row["train_loss"], row["grad_norm_median"]) == (0, None, None)


@pytest.fixture(scope="module")
def meta_model(one_store: Path) -> tuple[torch.nn.Module, SessionStore]:
    store = SessionStore(one_store)
    base, _ = load_base("tiny-sim")
    return model_for_finetune(base, [store], "tiny-sim").to(META), store


def test_predict_and_evaluate_keep_their_work_on_the_device(meta_model: tuple) -> None:
    model, store = meta_model
    with HostCopies():
        predictions = np.concatenate([values for _, values in predict_session(model, store, device=META)])
        evaluation = evaluate_session(model, store, tier="test", device=META)
    assert predictions.shape == (store.n_ticks, store.n_neurons)
    assert len(evaluation.to_dict()["neurons"]["roi_id"]) == store.n_neurons


def test_an_in_silico_experiment_keeps_its_work_on_the_device(meta_model: tuple) -> None:
    model, store = meta_model
    clips = torch.zeros(3, 40, 36, 64)
    with HostCopies():
        means = mean_responses(model, store.key, clips, BehaviorState("still", 0.0, 0.0), batch_size=2)
    assert means.shape == (3, store.n_neurons) and np.isfinite(means).all()
