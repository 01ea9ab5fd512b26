"""Every core family trains through the shared pipeline, round-trips through a checkpoint and predicts
into an NWB file; the baselines compute what their documentation says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from prediction_helpers import simulated_session
from pynwb import NWBHDF5IO

from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError
from nwb_v1former.model import FAMILIES, ModelConfig, V1Former, preset
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.pipeline.predict import predict
from nwb_v1former.pipeline.train import RunOptions, pretrain
from nwb_v1former.train.config import TrainConfig

FEW_STEPS = TrainConfig(max_epochs=1, warmup_steps=2, window=60)
"""One epoch of 60-tick windows."""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SessionStore]:
    """A short simulated session (45 s of 2-s clips, 20 neurons) as NWB, and its converted store."""
    root = tmp_path_factory.mktemp("families")
    return simulated_session(root, "allen", neurons=20, minutes=0.75, clip_seconds=2.0, planes=1)


@pytest.fixture(scope="module")
def trained(
    session: tuple[Path, SessionStore], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """The run folder of a preset after FEW_STEPS on the session, trained on first use."""
    runs: dict[str, Path] = {}

    def run_of(name: str) -> Path:
        if name not in runs:
            runs[name] = tmp_path_factory.mktemp(name) / "run"
            config, options = FEW_STEPS, RunOptions(report=False)
            pretrain([session[1].folder], runs[name], model_preset=name, config=config, options=options)
        return runs[name]

    return run_of


# ViV1T (viv1t-2025, small, tiny) goes through the same steps in tests/cli and tests/pipeline; the
# fCNN's run (18 s, a training included) goes with the slow tests, the LN's takes the same path.
@pytest.mark.parametrize(
    ("name", "family"), [pytest.param("fcnn", "fcnn", marks=pytest.mark.slow), ("ln", "ln")]
)
def test_family_trains_saves_loads_and_predicts_into_nwb(
    name: str, family: str, session: tuple[Path, SessionStore], trained, tmp_path: Path
) -> None:
    source, store = session
    run = trained(name)
    raw = torch.load(run / "best.ckpt", weights_only=True)  # tensors and plain data only
    assert (raw["config"]["family"], raw["config"]["preset"]) == (family, name)
    model = load_checkpoint(run / "best.ckpt")
    assert isinstance(model.core, FAMILIES[family].module)
    torch.manual_seed(FEW_STEPS.seed)  # the core the run started from (pretrain seeds before building)
    fresh = V1Former(preset(name)).core.state_dict()
    changed = [key for key, value in model.core.state_dict().items() if not torch.equal(value, fresh[key])]
    assert len(changed) > len(fresh) // 4  # trained weights (and batch-norm statistics) were saved
    assert model.core.state_dict()[next(k for k in fresh if k.endswith("running_var"))].ne(1).all()

    result = predict(run / "best.ckpt", source, tmp_path / "predicted.nwb", progress=False)
    assert result.session == store.key and result.written.predicted_frames > 0.9 * result.written.frames
    (series,) = result.written.series
    with NWBHDF5IO(tmp_path / "predicted.nwb", "r", load_namespaces=True) as io:
        nwbfile = io.read()
        traces = nwbfile.processing[DEFAULT_NAME][series.rsplit("/", 1)[1]].data[:]
        config = nwbfile.processing[DEFAULT_NAME]["model"].config
    assert traces.shape == (result.written.frames, store.n_neurons)
    predicted = traces[np.isfinite(traces).all(axis=1)]
    assert len(predicted) == result.written.predicted_frames
    assert (predicted >= 0).all() and (predicted.std(axis=0) > 0).all()  # ELU + 1, following the movie
    assert f'"family": "{family}"' in config  # the provenance names the core


def test_model_configs_of_every_family_round_trip_and_old_dicts_load() -> None:
    for name in ("viv1t-2025", "tiny", "fcnn", "ln"):
        assert ModelConfig.from_dict(preset(name).to_dict()) == preset(name)
    old = preset("tiny").to_dict()
    del old["family"]  # a checkpoint written before families existed
    assert ModelConfig.from_dict(old) == preset("tiny")
    with pytest.raises(ConfigError, match="unknown core family 'rnn'"):
        ModelConfig.from_dict({**old, "family": "rnn"})
    with pytest.raises(ConfigError, match=r"unknown model\.core config keys \['emb_dim'\]"):
        ModelConfig.from_dict({**preset("ln").to_dict(), "core": {"emb_dim": 8}})
    with pytest.raises(ConfigError, match="must be a LNConfig"):
        ModelConfig(family="ln", core=preset("fcnn").core)


def _inputs(frames: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(1, 1, frames, 36, 64, generator=generator)
    return (
        video,
        torch.randn(1, 2, frames, generator=generator),
        torch.randn(1, 2, frames, generator=generator),
    )


@pytest.mark.parametrize("name", ["fcnn", "ln"])
def test_baseline_cores_are_causal_with_a_short_reach_and_full_frame(name: str) -> None:
    """Causal, and blind to frames more than 22 back: a piece with 64 ticks of history is exact."""
    torch.manual_seed(0)
    core = V1Former(preset(name)).core.eval()
    video, behavior, pupil = _inputs(40)
    with torch.inference_mode():
        output = core(video, behavior, pupil)
        assert output.shape == (1, preset(name).core.emb_dim, 40, 36, 64) and core.grid == (36, 64)
        later = video.clone()
        later[:, :, 25:] = 0  # change the future only
        assert torch.equal(core(later, behavior, pupil)[:, :, :25], output[:, :, :25])
        earlier = video.clone()
        earlier[:, :, :5] = 0  # change the distant past only: beyond the 20-22 frames a baseline sees
        assert torch.equal(core(earlier, behavior, pupil)[:, :, 5 + 22 :], output[:, :, 5 + 22 :])
        assert not torch.equal(core(earlier, behavior, pupil)[:, :, 5], output[:, :, 5])
    rows, columns = core.cell_centers()
    assert np.array_equal(rows, np.arange(36)) and np.array_equal(columns, np.arange(64))


def test_ln_response_is_one_linear_filter_per_neuron_then_elu_plus_one() -> None:
    """In eval mode the pre-activation of every neuron is affine in the video (superposition holds)."""
    torch.manual_seed(0)
    model = V1Former(preset("ln"))
    model.add_session("a", np.arange(5), np.random.default_rng(0).normal(size=(5, 3)))
    model.eval()
    (first, behavior, pupil), (second, _, _) = _inputs(30, 0), _inputs(30, 1)
    blank = torch.zeros_like(first)
    with torch.inference_mode():
        response = {
            name: model(video, behavior, pupil, session="a", activate=False)
            for name, video in (("a", first), ("b", second), ("sum", first + second), ("blank", blank))
        }
        activated = model(first, behavior, pupil, session="a")
    torch.testing.assert_close(
        response["sum"] - response["blank"],
        response["a"] + response["b"] - 2 * response["blank"],
        atol=1e-4,
        rtol=1e-4,
    )
    torch.testing.assert_close(activated, torch.nn.functional.elu(response["a"]) + 1)


def cli(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.output


# The path is the same for every full-frame core and ViV1T's runs in tests/train (feature cache) and
# tests/cli (in-silico); both baselines' runs (11 s each) go with the slow tests.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["fcnn", "ln"])
def test_a_baseline_core_fine_tunes_from_its_feature_cache_and_runs_in_silico(
    name: str, session: tuple[Path, SessionStore], trained, tmp_path: Path
) -> None:
    """The published-model workflow works for a baseline too: fresh readouts on its frozen core (one
    pass into the feature cache), then the in-silico experiments; attention is refused in one line."""
    _, store = session
    base = trained(name) / "best.ckpt"
    run = tmp_path / "finetuned"
    code, output = cli(
        "finetune", store.folder, "--out", run, "--from", base, "--max-epochs", 1, "--window", 60,
        "--warmup-steps", 2, "--no-report", "--quiet",
    )  # fmt: skip
    assert code == 0, output
    assert len(list((run / "feature-cache").glob("*/features.npy"))) == 1
    finetuned = load_checkpoint(run / "best.ckpt")
    torch.testing.assert_close(finetuned.core.state_dict(), load_checkpoint(base).core.state_dict())

    out = tmp_path / "insilico"
    code, output = cli("insilico", "tuning", run / "best.ckpt", "--out", out, "--directions", 4, "--json")
    assert code == 0, output
    assert json.loads(output)["summary"]["rois"] == store.n_neurons
    code, output = cli("insilico", "attention", run / "best.ckpt", "--data", store.folder, "--out", out)
    assert code == 1 and output.count("\n") == 1
    assert f"needs a Transformer core; this model's core is '{name}'" in output
