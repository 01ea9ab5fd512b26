"""#19 point 2: one empty ROI mask, a NaN loss or a NaN checkpoint never turns into NaN outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from hostile.checks import assert_refused, assert_succeeded, cli, partials, snapshot
from hostile.mutations import QUICK, ROI_TABLE, mutated
from nwb_v1former.model.checkpoint import read_checkpoint


def test_an_empty_mask_is_placed_and_named_and_training_stays_finite(session, tmp_path: Path) -> None:
    def empty_mask(handle) -> None:
        handle[f"{ROI_TABLE}/image_mask"][3] = 0.0

    nwb = mutated(session.nwb, tmp_path / "in" / "empty-mask.nwb", empty_mask)
    empty_id = int(np.load(session.store / "roi_ids.npy")[3])
    before = snapshot(nwb)
    assert_succeeded(cli("convert", nwb, "--out", tmp_path / "store", "--quiet"))
    (folder,) = [path.parent for path in (tmp_path / "store").glob("*/meta.json")]
    coordinates = np.load(folder / "neurons.npz")["coordinates"]
    assert np.isfinite(coordinates).all()
    others = np.delete(coordinates, 3, axis=0)
    np.testing.assert_allclose(coordinates[3], others.mean(axis=0), rtol=1e-5)
    notes = json.loads((folder / "meta.json").read_text())["notes"]
    assert any(f"ROI {empty_id}: empty masks" in note for note in notes), notes

    run = tmp_path / "run"
    result = cli("finetune", tmp_path / "store", "--out", run, "--from", session.checkpoint, *QUICK)
    assert_succeeded(result)
    assert "nan" not in result.output.lower()
    best = torch.load(run / "best.ckpt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in best["state_dict"].values() if v.is_floating_point())
    assert snapshot(nwb) == before and not partials(tmp_path)


def test_a_non_finite_loss_stops_training_in_one_line_and_saves_no_trained_weights(
    session, tmp_path: Path
) -> None:
    store = tmp_path / "store" / session.store.name
    shutil.copytree(session.store, store)
    responses = np.load(store / "responses.npy", mmap_mode="r+")
    responses[:, 0] = np.inf  # a poisoned store: every training window of neuron 0
    responses.flush()
    del responses
    before = snapshot(store)
    line = assert_refused(
        cli("finetune", store.parent, "--out", tmp_path / "run", "--from", session.checkpoint, *QUICK),
        f"session {store.name}, epoch 0 step 0: the training loss is",
    )
    assert "nan" in line or "inf" in line
    assert not (tmp_path / "run" / "best.ckpt").exists()
    start = read_checkpoint(tmp_path / "run" / "last.ckpt")  # the starting point only (--resume from it)
    assert start["extra"]["training"]["progress"]["epoch"] == 0
    assert all(
        torch.isfinite(value).all() for value in start["state_dict"].values() if value.is_floating_point()
    )
    assert snapshot(store) == before and not partials(tmp_path)


def test_a_checkpoint_with_nan_weights_is_refused_by_predict(session, tmp_path: Path) -> None:
    payload = torch.load(session.checkpoint, weights_only=True)
    weights = payload["state_dict"].items()
    name = next(key for key, value in weights if value.is_floating_point() and value.numel())
    payload["state_dict"][name][...] = float("nan")
    checkpoint = tmp_path / "nan.ckpt"
    torch.save(payload, checkpoint)
    before = snapshot(session.nwb, checkpoint)
    out = tmp_path / "out" / "predicted.nwb"
    assert_refused(cli("predict", checkpoint, session.nwb, "--out", out, "--quiet"), "NaN", name)
    assert not out.exists() and snapshot(session.nwb, checkpoint) == before and not partials(tmp_path)
