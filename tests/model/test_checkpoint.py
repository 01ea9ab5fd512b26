"""Checkpoints round-trip exactly, load with weights_only=True, and refuse what they are not."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import torch

from nwb_v1former.digest import sha256
from nwb_v1former.errors import CheckpointError
from nwb_v1former.model import V1Former, preset
from nwb_v1former.model.checkpoint import load_checkpoint, open_checkpoint, read_checkpoint, save_checkpoint


def _tiny_model() -> V1Former:
    torch.manual_seed(0)
    model = V1Former(preset("tiny"))
    model.add_session("m1", np.array([7, 3, 11]), np.random.default_rng(0).normal(size=(3, 3)), np.ones(3))
    model.add_session("m2", np.array([1, 2]), np.random.default_rng(1).normal(size=(2, 3)))
    return model.eval()


def test_round_trip_gives_the_same_function(tmp_path):
    model = _tiny_model()
    path = save_checkpoint(model, tmp_path / "model.ckpt", extra={"trained_on": ["dandiset:000123"]})
    raw = torch.load(path, weights_only=True)  # no pickled code in the file
    assert raw["config"]["preset"] == "tiny" and raw["code_version"]
    loaded = load_checkpoint(path)
    assert not loaded.training
    np.testing.assert_array_equal(loaded.sessions["m1"].roi_ids, [7, 3, 11])
    video, behavior = torch.randn(1, 1, 6, 36, 64), torch.randn(1, 2, 6)
    with torch.inference_mode():
        for key in ("m1", "m2"):
            assert torch.equal(
                loaded(video, behavior, behavior, session=key), model(video, behavior, behavior, session=key)
            )
    assert read_checkpoint(path)["extra"] == {"trained_on": ["dandiset:000123"]}


def test_foreign_and_damaged_files_are_refused(tmp_path):
    model = _tiny_model()
    path = save_checkpoint(model, tmp_path / "model.ckpt")
    authors = tmp_path / "model.pt"
    torch.save(model.state_dict(), authors)
    with pytest.raises(CheckpointError, match="import-viv1t"):
        load_checkpoint(authors)
    damaged = tmp_path / "damaged.ckpt"
    damaged.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"damaged\.ckpt: not a readable checkpoint"):
        load_checkpoint(damaged)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_pickled_code_is_never_executed(tmp_path):
    class Payload:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    path = tmp_path / "evil.ckpt"
    torch.save({"format": "nwb-v1former-checkpoint", "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_a_checkpoint_is_read_once_and_its_digest_names_the_weights_used(tmp_path):
    """#28.6: a file replaced while it is used (a `finetune --overwrite` beside a `predict`) cannot make
    provenance record a digest of other weights than those loaded."""
    path = save_checkpoint(_tiny_model(), tmp_path / "best.ckpt")
    used = path.read_bytes()
    opened = open_checkpoint(path)
    other = _tiny_model()
    with torch.no_grad():
        next(other.parameters()).add_(0.25)
    save_checkpoint(other, tmp_path / "next.ckpt").replace(path)  # replaced by rename, as a run does
    assert opened.sha256 == hashlib.sha256(used).hexdigest() != sha256(path)
    loaded = opened.model().state_dict()
    recorded = torch.load(io.BytesIO(used), weights_only=True)["state_dict"]
    assert loaded.keys() == recorded.keys() and all(torch.equal(loaded[k], recorded[k]) for k in loaded)
    now = load_checkpoint(path).state_dict()
    assert not all(torch.equal(loaded[k], now[k]) for k in loaded)
