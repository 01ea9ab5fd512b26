"""Importing the authors' run folders (CLI and by name through an offline Hugging Face cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from viv1t_helpers import authors_run_folder

from nwb_v1former.errors import CheckpointError
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.model.importer import HUB_REPOSITORY, resolve_published
from nwb_v1former.model.provenance import Provenance


def _assert_reproduces(path: Path, reference: dict) -> None:
    model = load_checkpoint(path)
    inputs = reference["inputs"]["B"]
    with torch.inference_mode():
        out = model(inputs["video"], inputs["behavior"], inputs["pupil_center"], session="B")
    torch.testing.assert_close(out.transpose(1, 2), reference["outputs"]["B"], atol=1e-5, rtol=1e-5)


def test_import_viv1t_cli_maps_every_weight(tmp_path, reference_small):
    run = authors_run_folder(tmp_path / "run", reference_small)
    out = tmp_path / "viv1t.ckpt"
    result = CliRunner().invoke(main, ["import-viv1t", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "sessions: A (40 neurons), B (25 neurons)" in result.output
    _assert_reproduces(out, reference_small)
    provenance = Provenance.of_checkpoint(torch.load(out, weights_only=True))
    assert provenance.authors_epoch == 42 and provenance.authors_best_corr == 0.25


def test_import_refuses_other_architectures_and_missing_files(tmp_path, reference_small):
    run = authors_run_folder(tmp_path / "run", reference_small, core_use_causal_attention=False)
    result = CliRunner().invoke(main, ["import-viv1t", str(run), "--out", str(tmp_path / "x.ckpt")])
    assert result.exit_code == 1
    assert "core_use_causal_attention=False" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.ckpt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["import-viv1t", str(empty), "--out", str(tmp_path / "y.ckpt")])
    assert result.exit_code == 1 and "not a ViV1T run folder (no args.yaml)" in result.output


def _hub_cache(root: Path, reference: dict, runs: list[str]) -> Path:
    """A Hugging Face cache in the standard layout, as a finished download leaves it."""
    repo = root / f"models--{HUB_REPOSITORY.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    for run in runs:
        authors_run_folder(repo / "snapshots" / commit / run, reference)
    return root


def test_published_weights_resolve_offline_through_the_hub_cache(tmp_path, reference_small, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = _hub_cache(tmp_path / "hub", reference_small, ["viv1t"])
    path = resolve_published("viv1t-2025", hub_cache=hub, cache_dir=tmp_path / "ours")
    assert path.parent == tmp_path / "ours" / "published"
    _assert_reproduces(path, reference_small)
    assert resolve_published("viv1t-2025", hub_cache=hub, cache_dir=tmp_path / "ours") == path  # reused


def test_published_name_errors(tmp_path, reference_small, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = _hub_cache(tmp_path / "hub", reference_small, ["seed1", "seed2"])
    with pytest.raises(CheckpointError, match="2 matching run folders; choose one of: viv1t-2025:seed1"):
        resolve_published("viv1t-2025", hub_cache=hub, cache_dir=tmp_path / "ours")
    assert resolve_published("viv1t-2025:seed2", hub_cache=hub, cache_dir=tmp_path / "ours").is_file()
    with pytest.raises(CheckpointError, match="cannot fetch"):
        resolve_published("viv1t-2025", hub_cache=tmp_path / "empty-hub", cache_dir=tmp_path / "ours")
    with pytest.raises(CheckpointError, match="unknown published model 'viv1t-2023'"):
        resolve_published("viv1t-2023")
