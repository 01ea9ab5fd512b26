"""Our `viv1t-2025` architecture computes the authors' function: their weights give their outputs."""

from __future__ import annotations

import pytest
import torch

from nwb_v1former.errors import ConfigError
from nwb_v1former.model import V1Former, preset
from nwb_v1former.model.published import config_from_authors, model_from_authors


def _outputs(model, inputs, mouse, **kwargs) -> torch.Tensor:
    with torch.inference_mode():
        return model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session=mouse, **kwargs)


@pytest.mark.parametrize("weights", ["state_dict", "authors_init_state_dict"])
def test_small_reference_outputs(reference_small, weights):
    reference = reference_small
    model = model_from_authors(reference["config"], reference[weights]).eval()
    expected = reference["outputs"] if weights == "state_dict" else reference["authors_init_outputs"]
    for mouse in ("A", "B"):
        out = _outputs(model, reference["inputs"][mouse], mouse)
        assert out.shape == (2, 40, reference["config"]["num_neurons"][mouse])  # (B, T, N)
        torch.testing.assert_close(out.transpose(1, 2), expected[mouse], atol=1e-5, rtol=1e-5)
    if weights == "state_dict":
        inputs = reference["inputs"]["A"]
        pre = _outputs(model, inputs, "A", activate=False)
        torch.testing.assert_close(
            pre.transpose(1, 2), reference["pre_activation_outputs"]["A"], atol=1e-5, rtol=1e-5
        )
        with torch.inference_mode():
            core = model.core(inputs["video"], inputs["behavior"], inputs["pupil_center"])
            shift = model.shifters["A"](inputs["pupil_center"])
        # The tokenizer's fused LayerNorm+Linear sums in another order: relative error ~1e-6.
        relative = (core - reference["core_output"]).norm() / reference["core_output"].norm()
        assert relative < 1e-5
        torch.testing.assert_close(core, reference["core_output"], atol=3e-5, rtol=1e-5)
        torch.testing.assert_close(shift.transpose(1, 2), reference["shifts"]["A"], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(
            model.readouts["A"].mu, reference["readout_mu"]["A"][0, :, 0], atol=1e-6, rtol=0
        )


@pytest.mark.slow  # 10 s; the same code at the small depth is checked against the authors' outputs by default
def test_full_depth_reference_outputs_and_sizes(reference_full):
    reference = reference_full
    model = model_from_authors(reference["config"], reference["state_dict"]).eval()
    assert model.config.core == preset("viv1t-2025").core, "the fixture's architecture is our preset"
    assert sum(p.numel() for p in model.core.parameters()) == reference["param_counts"]["core"] == 3_787_042
    assert sum(p.numel() for p in model.parameters()) == reference["param_counts"]["total"]
    for mouse in ("A", "B"):
        out = _outputs(model, reference["inputs"][mouse], mouse).transpose(1, 2)
        relative = (out - reference["outputs"][mouse]).abs().max() / reference["outputs"][mouse].abs().max()
        assert relative < 1e-5, f"mouse {mouse}: relative error {relative:.2e}"
    with torch.inference_mode():
        inputs = reference["inputs"]["A"]
        core = model.core(inputs["video"], inputs["behavior"], inputs["pupil_center"])
    relative = (core - reference["core_output"]).abs().max() / reference["core_output"].abs().max()
    assert relative < 1e-5, f"core: relative error {relative:.2e}"


def test_other_architectures_are_refused(reference_small):
    args = {**reference_small["config"], "core_use_causal_attention": False}
    with pytest.raises(ConfigError, match="core_use_causal_attention=False"):
        config_from_authors(args)
    with pytest.raises(ConfigError, match="output_mode"):
        config_from_authors({**reference_small["config"], "output_mode": 0})


def test_the_model_is_causal_and_prefix_consistent(reference_small):
    model = model_from_authors(reference_small["config"], reference_small["state_dict"]).eval()
    inputs = {k: v[:1].clone() for k, v in reference_small["inputs"]["A"].items()}
    base = _outputs(model, inputs, "A")
    inputs["video"][:, :, 20] += 1.0
    changed = _outputs(model, inputs, "A")
    assert torch.equal(changed[:, :20], base[:, :20]), "frame 20 must not affect earlier outputs"
    assert (changed[:, 20:] - base[:, 20:]).abs().max() > 1e-3
    short = _outputs(
        model, {k: v[..., :30] if k != "video" else v[:, :, :30] for k, v in inputs.items()}, "A"
    )
    torch.testing.assert_close(short, changed[:, :30], atol=2e-5, rtol=0)


def test_wrong_shapes_and_unknown_sessions_get_clear_errors():
    model = V1Former(preset("tiny"))
    model.add_session("mouse-1", torch.arange(3).numpy(), torch.randn(3, 3).numpy())
    video, behavior = torch.zeros(1, 1, 8, 36, 64), torch.zeros(1, 2, 8)
    assert model(video, behavior, behavior, session="mouse-1").shape == (1, 8, 3)
    with pytest.raises(ConfigError, match=r"video must be \(B, 1, T, 36, 64\), got \(1, 1, 8, 64, 36\)"):
        model(video.transpose(3, 4), behavior, behavior, session="mouse-1")
    with pytest.raises(ConfigError, match=r"pupil_center must be \(B, 2, T\) = \(1, 2, 8\)"):
        model(video, behavior, behavior[..., :5], session="mouse-1")
    with pytest.raises(ConfigError, match="no readout for session 'mouse-2'; it has: mouse-1"):
        model(video, behavior, behavior, session="mouse-2")
    with pytest.raises(ConfigError, match=r"contain no '\.'"):
        model.add_session("a.b", [0], [[0.0, 0.0]])
