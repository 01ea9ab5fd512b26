"""Every script in examples/ runs as a lab would run it (a subprocess), on small simulated sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pynwb import NWBHDF5IO
from sources.dandi_server import DandiServer

from nwb_v1former.data.store import open_stores
from nwb_v1former.nwb.write import DEFAULT_NAME
from nwb_v1former.simulate import simulate_and_write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = {"neurons": 24, "minutes": 1.0, "clip_seconds": 2.0, "repeated_clips": 2, "seed": 11}
"""20 trials of 2 s: 10 to train on, 5 validation and 5 test trials (one clip each, 5 repeats)."""
WITHOUT_NWB_V1FORMER = "import runpy, sys; sys.modules['nwb_v1former'] = None; sys.argv = sys.argv[1:]; "
"""Prefix of a `python -c` that makes any import of nwb_v1former fail, then runs the script in argv."""


def run(script: str, *args, cwd: Path, block_package: bool = False) -> str:
    """Run examples/<script> with `args` in `cwd`; its stdout (the test fails with stderr otherwise)."""
    path = str(EXAMPLES / script)
    command = (
        [
            sys.executable,
            "-c",
            WITHOUT_NWB_V1FORMER + "runpy.run_path(sys.argv[0], run_name='__main__')",
            path,
        ]
        if block_package
        else [sys.executable, path]
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DANDI", "NWB_V1"))}
    result = subprocess.run(
        [*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def own_nwb(tmp_path_factory) -> Path:
    """A lab's own session: one simulated mouse written as an OpenScope-style NWB file."""
    root = tmp_path_factory.mktemp("own")
    return simulate_and_write(root / "sessions", layout="openscope", progress=False, **SMALL)[0].data


@pytest.mark.slow  # 32 s: finetune, predict and read back run in the default suite through the CLI tests
def test_finetune_predict_and_read_back_with_plain_pynwb(own_nwb, tmp_path):
    printed = run("finetune_own_nwb.py", own_nwb.parent, "--out", "run", "--max-epochs", "1", cwd=tmp_path)
    assert "test single-trial correlation" in printed and (tmp_path / "run" / "best.ckpt").is_file()

    printed = run("predict_into_nwb.py", "run/best.ckpt", own_nwb, "--out", "predicted.nwb", cwd=tmp_path)
    assert f"/processing/{DEFAULT_NAME}" in printed
    with NWBHDF5IO(tmp_path / "predicted.nwb", "r", load_namespaces=True) as io:
        series = io.read().processing[DEFAULT_NAME]["traces"]
        assert series.recorded is None and series.recorded_path == "/processing/ophys/dff/traces"

    printed = run(
        "read_predictions.py", "predicted.nwb", "--recording", own_nwb, cwd=tmp_path, block_package=True
    )
    assert "readout sim-11-000_sim-000" in printed and "trained on: Trained on simulated sessions" in printed
    assert f"traces: {SMALL['neurons']} ROIs x" in printed and "in held-out test trials" in printed
    assert "per-ROI evaluation table: 24 rows" in printed

    printed = run("insilico_experiments.py", "run", "predicted.nwb", "--clips", "1", cwd=tmp_path)
    assert f"of {SMALL['neurons']} ROIs tuned" in printed and f"{SMALL['neurons']} ROIs mapped" in printed
    assert "most deeply tuned ROI" in printed and "strongest attention-behaviour pair" in printed
    assert sorted(path.name for path in (tmp_path / "run" / "insilico").glob("*.json")) == [
        "attention.json",
        "receptive_fields.json",
        "tuning.json",
    ]


def test_convert_a_dandiset_from_a_local_archive(own_nwb, tmp_path):
    server = DandiServer().start()
    try:
        server.add_dandiset("000321", {"0.250101.0000": {"sub-11/sub-11_ses-sim.nwb": own_nwb}, "draft": {}})
        source = "dandiset:000321@0.250101.0000/sub-*/*.nwb"
        printed = run(
            "convert_dandiset.py",
            source,
            "--out",
            "data",
            "--cache-dir",
            "cache",
            "--dandi-api-url",
            server.api_url,
            cwd=tmp_path,
        )
    finally:
        server.stop()
    (store,) = open_stores(tmp_path / "data")
    assert f"{source}: 1 NWB asset(s)" in printed and f"{store.key}: 24 neurons" in printed
    assert store.meta["source"]["dandiset"] == "000321" and store.meta["source"]["version"] == "0.250101.0000"


@pytest.mark.slow  # 12 s: Sensorium conversion and pretraining run in tests/sources and tests/train
def test_pretrain_on_sensorium_converted_to_nwb(tmp_path):
    (mouse,) = simulate_and_write(tmp_path / "sensorium", layout="sensorium", progress=False, **SMALL)
    args = ("--nwb-dir", "nwb", "--out", "run", "--max-epochs", "1", "--window", "60")
    printed = run("pretrain_sensorium.py", mouse.data, *args, cwd=tmp_path)
    assert (tmp_path / "nwb" / f"{mouse.data.name}.nwb").is_file() and (
        tmp_path / "run" / "best.ckpt"
    ).is_file()
    assert "best validation correlation" in printed


@pytest.mark.slow  # 14 s: compare runs in tests/pipeline/test_compare.py
def test_compare_baselines_from_python(own_nwb, tmp_path):
    args = ("--out", "cmp", "--models", "ln", "--max-epochs", "1", "--window", "60")
    printed = run("compare_baselines.py", own_nwb, *args, cwd=tmp_path)
    table = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    row = table["models"]["ln"]
    assert f"ln (ln): normalised correlation {row['normalized_correlation']:.3f}" in printed
    assert f"{row['parameters']:,} parameters, 1 epochs" in printed
    assert (tmp_path / "cmp" / "report" / "index.html").is_file()
