"""Attention weights can be read out without changing what the model computes."""

from __future__ import annotations

import torch

from nwb_v1former.model.attention import capture_attention
from nwb_v1former.model.published import model_from_authors


def test_captured_attention_is_the_same_function(reference_small):
    model = model_from_authors(reference_small["config"], reference_small["state_dict"]).eval()
    inputs = {name: value[:1, ..., :12] for name, value in reference_small["inputs"]["A"].items()}
    inputs["video"] = reference_small["inputs"]["A"]["video"][:1, :, :12]
    with torch.inference_mode():
        fast = model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session="A")
        with capture_attention(model) as maps:
            explicit = model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session="A")
        after = model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session="A")
    torch.testing.assert_close(explicit, fast, atol=1e-5, rtol=1e-5)
    assert torch.equal(after, fast) and all(b.attention_sink is None for b in model.core.spatial.blocks)
    assert len(maps.spatial) == len(maps.temporal) == 2
    spatial, temporal = maps.spatial[0], maps.temporal[0]
    assert spatial.shape == (12, 2, 600, 600) and temporal.shape == (576, 2, 36, 36)
    torch.testing.assert_close(spatial.sum(-1), torch.ones(12, 2, 600))
    assert torch.all(temporal.triu(1) == 0), "temporal attention is causal"


def test_reduce_keeps_only_what_is_asked(reference_small):
    model = model_from_authors(reference_small["config"], reference_small["state_dict"]).eval()
    inputs = reference_small["inputs"]["B"]
    with torch.inference_mode(), capture_attention(model, reduce=lambda w: w.mean(dim=(0, 1))) as maps:
        model(
            inputs["video"][:1, :, :8],
            inputs["behavior"][:1, :, :8],
            inputs["pupil_center"][:1, :, :8],
            session="B",
        )
    assert maps.spatial[1].shape == (600, 600) and maps.temporal[1].shape == (32, 32)


def test_gradient_checkpointing_gives_the_same_gradients(reference_small):
    model = model_from_authors(reference_small["config"], reference_small["state_dict"]).train()
    inputs = {name: value[:1, ..., :6] for name, value in reference_small["inputs"]["A"].items()}
    inputs["video"] = reference_small["inputs"]["A"]["video"][:1, :, :6]

    def gradients() -> list[torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(3)
        out = model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session="A")
        out.sum().backward()
        return [p.grad.clone() for p in model.core.parameters() if p.grad is not None]

    plain = gradients()
    model.core.set_gradient_checkpointing(True)
    checkpointed = gradients()
    assert len(plain) == len(checkpointed) > 0
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_training_after_evaluation_in_inference_mode():
    """Rotary tables built during inference-mode evaluation must also serve a later training step."""
    import numpy as np

    from nwb_v1former.model import V1Former, preset

    model = V1Former(preset("tiny"))
    model.add_session("m", np.arange(4), np.random.default_rng(0).normal(size=(4, 3)))
    video, behavior = torch.randn(1, 1, 10, 36, 64), torch.randn(1, 2, 10)
    with torch.inference_mode():
        model.eval()(video, behavior, behavior, session="m")
    model.train()(video, behavior, behavior, session="m").sum().backward()
    assert model.core.tokenizer.linear.weight.grad is not None
