"""What labs type: fine-tune on a dandiset, then predict every asset of it (against the stand-in archive)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from nwb_v1former.cli.main import main
from pynwb import NWBHDF5IO

from sources.dandi_server import LATEST, SESSION_0, SESSION_1

QUICK = ["--max-epochs", "1", "--window", "60", "--warmup-steps", "5", "--quiet", "--no-report"]


@pytest.mark.slow  # 24 s: dandiset sources run end to end in test_dandi_archive_forms_e2e and test_dandi_cli
def test_finetune_a_dandiset_then_predict_one_nwb_per_asset(dandi, tmp_path):
    server = ["--dandi-api-url", dandi.api_url, "--cache-dir", str(tmp_path / "cache")]
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["finetune", "dandiset:000123", "--out", str(run), *server, *QUICK])
    assert result.exit_code == 0, result.output
    assert f"Run {run}: 2 session(s), 1 epochs" in result.stdout
    config = yaml.safe_load((run / "config.yaml").read_text())
    origins = [
        (entry["dandiset"], entry["version"], entry["asset_path"])
        for entry in config["provenance"]["training_data"]
    ]
    assert origins == [("000123", LATEST, SESSION_0), ("000123", LATEST, SESSION_1)]
    assert json.loads((run / "evaluation.json").read_text())["summary"].keys() == {
        entry["session"] for entry in config["provenance"]["training_data"]
    }

    predictions = tmp_path / "predictions"
    result = CliRunner().invoke(
        main, ["predict", str(run / "best"), "dandiset:000123", "--out", str(predictions), *server, "--quiet"]
    )
    assert result.exit_code == 0, result.output
    written = sorted(path.relative_to(predictions).as_posix() for path in predictions.rglob("*.nwb"))
    assert written == sorted([SESSION_0, SESSION_1])  # mirrors the asset paths
    assert not list((tmp_path / "cache").rglob(".*partial*"))
    for path in written:
        with NWBHDF5IO(predictions / path, "r") as io:
            module = io.read().processing["v1former_predictions"]
            assert module["model"].fields["checkpoint_sha256"]
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("*.nwb"))
    assert len(cached) == 2  # the downloads, untouched: predictions never go into the cache
