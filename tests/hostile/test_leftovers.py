"""#19.3: what killed runs leave is never read as data, and the next run removes it (with a line)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile.checks import assert_succeeded, cli, partials, snapshot
from nwb_v1former.nwb.discover import open_nwb
from nwb_v1former.nwb.write import DEFAULT_NAME

KILLER = Path(__file__).parents[1] / "cli" / "sigkill_predict.py"


def quiet_environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow  # 21 s: a killed in-place predict is checked by tests/cli/test_predict.py's SIGKILL test
def test_a_killed_predict_in_place_is_not_a_second_session(source: Path, checkpoint: Path, tmp_path) -> None:
    killed = subprocess.run(
        [sys.executable, str(KILLER), str(checkpoint), str(source), "fill"],
        capture_output=True,
        text=True,
        env=quiet_environment(tmp_path),
        timeout=300,
    )
    assert json.loads(killed.stdout.strip().splitlines()[-1]) == {"fill": "SIGKILL"}, killed.stderr
    left = partials(source.parent)
    assert [path.suffix for path in left] == [".nwb"], "the kill left its partial copy"
    shutil.copyfile(source, source.with_name(".backup.nwb"))  # a dot-file is not a session either
    alone = cli("convert", source, "--out", tmp_path / "alone", "--json", "--quiet")
    assert_succeeded(alone)

    folder = cli("convert", source.parent, "--out", tmp_path / "store", "--json", "--quiet")
    assert_succeeded(folder)
    sessions = json.loads(folder.output)["sessions"]
    assert [(s["key"], s["source"]) for s in sessions] == [
        (s["key"], s["source"]) for s in json.loads(alone.output)["sessions"]
    ]

    result = cli("predict", checkpoint, source, "--in-place", "--quiet")
    assert_succeeded(result)
    assert f"removed {left[0]}" in result.output and "killed" in result.output
    assert partials(source.parent) == []
    with open_nwb(source) as nwbfile:
        assert DEFAULT_NAME in nwbfile.processing


def test_a_killed_convert_leaves_no_partial_store_for_ever(source: Path, tmp_path) -> None:
    out = tmp_path / "store"
    before = snapshot(source.parent)
    process = subprocess.Popen(
        [sys.executable, "-m", "nwb_v1former", "convert", str(source), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=quiet_environment(tmp_path),
    )
    try:
        deadline = time.monotonic() + 120
        while not partials(tmp_path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    left = partials(tmp_path)
    assert [path.name for path in left] == [f".store.partial-{process.pid}"] and not out.exists()

    result = cli("convert", source, "--out", out, "--quiet")
    assert_succeeded(result)
    assert f"removed {left[0]}" in result.output
    assert partials(tmp_path) == [] and len(list(out.glob("*/meta.json"))) == 1
    assert snapshot(source.parent) == before


def _started(command: list[str], env: dict[str, str], ready, sent: signal.Signals) -> subprocess.Popen:
    """`command` in a subprocess, sent `sent` as soon as `ready()` (polled every millisecond)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert process.poll() is None, process.communicate()[1]
    process.send_signal(sent)
    process.wait(timeout=60)
    return process


def test_killed_and_terminated_predicts_leave_nothing_the_next_run_keeps(
    source: Path, checkpoint: Path, tmp_path
) -> None:
    """#28.4: a SIGKILL leaves predict's temporary store in TMPDIR, and the next predict removes it; a
    SIGTERM unwinds like an error: exit 143, no temporary store, partial or lock left."""
    scratch_root, out = tmp_path / "tmp", tmp_path / "out"
    scratch_root.mkdir()
    out.mkdir()
    env = {**quiet_environment(scratch_root)}
    predict = [sys.executable, "-m", "nwb_v1former", "predict", str(checkpoint), str(source), "--quiet"]

    def scratch() -> list[Path]:
        return sorted(scratch_root.glob("nwb-v1former-predict-*"))

    killed = _started([*predict, "--out", str(out / "a.nwb")], env, lambda: bool(scratch()), signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    (left,) = scratch()
    assert left.name.startswith(f"nwb-v1former-predict-{killed.pid}-")

    terminated = _started(
        [*predict, "--out", str(out / "b.nwb")], env, lambda: bool(partials(out)), signal.SIGTERM
    )
    stderr = terminated.stderr.read()
    assert terminated.returncode == 143, stderr
    assert f"removed {left}, left by process {killed.pid}, which was killed" in stderr
    assert stderr.strip().splitlines()[-1] == (
        "Error: terminated; outputs are written whole or not at all, so run the same command again"
    )
    assert scratch() == [] and sorted(out.iterdir()) == [], "no temporary store, partial or lock is left"
