"""The authors' ViV1T run folders, built from a reference fixture (see tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml


def authors_run_folder(folder: Path, reference: dict, **override) -> Path:
    """A run folder in the authors' layout: args.yaml, ckpt/model.pt, ckpt/info.yaml."""
    (folder / "ckpt").mkdir(parents=True)
    (folder / "args.yaml").write_text(yaml.safe_dump({**reference["config"], **override}))
    torch.save(reference["state_dict"], folder / "ckpt" / "model.pt")
    (folder / "ckpt" / "info.yaml").write_text(yaml.safe_dump({"epoch": 42, "best_corr": 0.25}))
    return folder
