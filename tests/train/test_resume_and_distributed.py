"""A run killed with SIGKILL and resumed equals an uninterrupted one; 2 gloo processes equal 1 process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from nwb_v1former.cli.main import main

from nwb_v1former.model.checkpoint import read_checkpoint

CLI = [sys.executable, "-m", "nwb_v1former"]
QUICK = ["--preset", "tiny", "--window", "60", "--warmup-steps", "5", "--quiet", "--no-report"]


def one_store(sim_stores: Path) -> Path:
    return sorted(path.parent for path in sim_stores.glob("*/meta.json"))[0]


def in_process(args: list[str]) -> None:
    """`nwb-v1former ARGS` in this process (no torch + pynwb import to pay again); it must succeed."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


def epochs_logged(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def metrics_without_time(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_same_weights(first: Path, second: Path, atol: float = 0.0) -> None:
    a, b = read_checkpoint(first)["state_dict"], read_checkpoint(second)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.slow  # three training runs in subprocesses: about a minute on 2 quiet cores
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(sim_stores: Path, tmp_path: Path) -> None:
    store = str(one_store(sim_stores))
    options = [*QUICK, "--max-epochs", "3", "--seed", "5"]
    subprocess.run([*CLI, "pretrain", store, "--out", str(tmp_path / "whole"), *options], check=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen([*CLI, "pretrain", store, "--out", str(killed), *options])
    deadline = time.monotonic() + 300
    while epochs_logged(killed) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert epochs_logged(killed) < 3, "the run finished before it could be killed"

    subprocess.run([*CLI, "pretrain", "--out", str(killed), "--resume", *options], check=True)
    assert metrics_without_time(killed) == metrics_without_time(tmp_path / "whole")
    assert_same_weights(killed / "last.ckpt", tmp_path / "whole" / "last.ckpt")
    assert_same_weights(killed / "best.ckpt", tmp_path / "whole" / "best.ckpt")


def test_resume_without_a_run_is_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "pretrain", "--out", str(tmp_path / "none"), "--resume", *QUICK],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'none'}: nothing to resume (no last.ckpt: the run stopped before it started "
        "training); run the same command with its SOURCES to start it from the beginning"
    ]


def test_sigkill_before_the_first_epoch_ends_then_resume_equals_an_uninterrupted_run(
    sim_stores: Path, tmp_path: Path
) -> None:
    """#28.3: killed while building the feature cache (before any epoch was logged), the run continues
    with --resume (its starting point is saved as training begins), to the uninterrupted run's weights."""
    store = str(one_store(sim_stores))
    options = [*LOUD, "--quiet", "--no-report", "--max-epochs", "1", "--seed", "3"]
    # Only the killed run needs a process of its own; the uninterrupted run and the resume run here.
    in_process(["finetune", store, "--out", str(tmp_path / "whole"), *options])

    killed = tmp_path / "killed"
    process = subprocess.Popen([*CLI, "finetune", store, "--out", str(killed), *options])
    deadline = time.monotonic() + 300
    while not (killed / "last.ckpt").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert epochs_logged(killed) == 0 and not (killed / "best.ckpt").exists(), "killed after its first epoch"

    in_process(["finetune", "--out", str(killed), "--resume", *options])
    assert metrics_without_time(killed) == metrics_without_time(tmp_path / "whole")
    assert_same_weights(killed / "best.ckpt", tmp_path / "whole" / "best.ckpt")


# Slow (12 s): the default suite runs torchrun's other gloo test (two sessions, the feature cache).
@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="torch built without gloo")
def test_two_gloo_processes_on_one_session_match_one_process_with_the_same_global_batch(
    sim_stores: Path, tmp_path: Path
) -> None:
    """The DDP convention: a batch per process (here 1), so one session scales over processes."""
    store = str(one_store(sim_stores))
    options = [*QUICK, "--max-epochs", "1", "--seed", "2"]
    one = [*CLI, "pretrain", store, "--out", str(tmp_path / "one"), "--batch-size", "2"]
    subprocess.run([*one, *options], check=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*launcher, "-m", "nwb_v1former", "pretrain", store, "--out", str(tmp_path / "two")]
    subprocess.run([*command, *options, "--device", "cpu"], check=True, env=env)  # batch 1 per process
    config = yaml.safe_load((tmp_path / "two" / "config.yaml").read_text())
    assert (config["processes"], config["global_batch_size"], config["train"]["batch_size"]) == (2, 2, 1)
    assert_same_weights(tmp_path / "two" / "last.ckpt", tmp_path / "one" / "last.ckpt", atol=1e-5)


LOUD = ["--from", "tiny-sim", "--strategy", "readout", "--window", "60", "--warmup-steps", "5"]
"""Without --quiet and without a terminal: plain lines on stderr."""


@pytest.mark.slow  # 29 s; torchrun's ranks, devices and agreement run in tests/test_device.py (6 s)
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="torch built without gloo")
def test_two_gloo_processes_share_the_feature_cache_of_two_sessions(sim_stores: Path, tmp_path: Path) -> None:
    """Each process builds one session's cache (no file has two writers); the step equals one process's,
    the logged loss is the global batch's (not rank 0's part of it), and only rank 0 prints."""
    options = [*LOUD, "--no-report", "--max-epochs", "1", "--seed", "2"]
    one = [*CLI, "finetune", str(sim_stores), "--out", str(tmp_path / "one"), "--batch-size", "2"]
    subprocess.run([*one, *options, "--quiet"], check=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*launcher, "-m", "nwb_v1former", "finetune", str(sim_stores), "--out", str(tmp_path / "two")]
    two = subprocess.run(
        [*command, *options, "--device", "cpu"], check=True, env=env, capture_output=True, text=True
    )
    caches = sorted((tmp_path / "two" / "feature-cache").iterdir())
    assert len(caches) == 2 and all(
        json.loads((c / "progress.json").read_text())["pieces"] > 0 for c in caches
    )
    assert_same_weights(tmp_path / "two" / "last.ckpt", tmp_path / "one" / "last.ckpt", atol=1e-5)
    losses = {
        run: [row["train_loss"] for row in metrics_without_time(tmp_path / run)] for run in ("one", "two")
    }
    assert losses["two"] == pytest.approx(losses["one"], rel=1e-5)
    assert len(re.findall(r"^\S+ \S+ epoch 0: train loss", two.stderr, re.M)) == 1, two.stderr
    assert len(re.findall(r"^\S+ \S+ nwb-v1former \S+ finetune$", two.stderr, re.M)) == 1, two.stderr
    assert two.stdout.count("best validation correlation") == 1, two.stdout


@pytest.mark.slow  # 13 s; a resume through the cache's build runs in the SIGKILL test above
def test_resume_reuses_the_feature_cache(sim_stores: Path, tmp_path: Path) -> None:
    store, run = str(one_store(sim_stores)), tmp_path / "run"
    first = subprocess.run(
        [*CLI, "finetune", store, "--out", str(run), *LOUD, "--no-report", "--max-epochs", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "feature cache:" in first.stderr and "GB" in first.stderr
    # A batch job (no terminal): one plain line per epoch, no progress-bar control characters.
    epoch_line = r"^[\d-]+ [\d:]+ epoch 0: train loss [\d.]+, validation correlation -?[\d.]+"
    assert re.search(epoch_line, first.stderr, re.M)
    assert "\r" not in first.stderr
    (features,) = (run / "feature-cache").glob("*/features.npy")
    written = features.stat().st_mtime_ns
    resumed = subprocess.run(
        [*CLI, "finetune", "--out", str(run), "--resume", *LOUD, "--no-report", "--max-epochs", "2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "feature cache:" not in resumed.stderr, resumed.stderr
    assert features.stat().st_mtime_ns == written and epochs_logged(run) == 2
