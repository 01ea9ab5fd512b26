"""#19.8: a training start that fails before its first epoch does not block the next plain run, and a
run folder holding anything a run does not write is never taken over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hostile.checks import QUICK, assert_refused, assert_succeeded, cli, partials, snapshot


def test_a_failed_start_does_not_block_the_rerun(source: Path, base: Path, tmp_path) -> None:
    run = tmp_path / "run"
    before = snapshot(source)
    failed = cli("finetune", source, "--out", run, "--from", tmp_path / "missing.ckpt", *QUICK)
    assert_refused(failed, "missing.ckpt")
    assert_refused(cli("finetune", "--out", run, "--resume", *QUICK), "nothing to resume", "with its SOURCES")
    loud = [option for option in QUICK if option != "--quiet"]
    resumed = cli("finetune", source, "--out", run, "--from", base, "--resume", *loud)  # as after a kill
    assert_succeeded(resumed)
    assert f"{run} holds nothing trained yet: the run starts from the beginning" in resumed.output
    assert (run / "best.ckpt").is_file() and len(list((run / "data").glob("*/meta.json"))) == 1
    assert_refused(cli("finetune", source, "--out", run, "--from", base, *QUICK), "already holds a run")
    assert snapshot(source) == before and partials(tmp_path) == []


def test_overwrite_never_takes_over_a_folder_that_is_not_a_run(source: Path, base: Path, tmp_path) -> None:
    folder = tmp_path / "analysis"
    folder.mkdir()
    (folder / "figure.png").write_bytes(b"not a run")
    before = snapshot(folder)
    result = cli("finetune", source, "--out", folder, "--from", base, "--overwrite", *QUICK)
    assert_refused(result, "figure.png", "choose another --out")
    assert snapshot(folder) == before and sorted(p.name for p in folder.iterdir()) == ["figure.png"]


def test_a_run_folder_has_one_writer_from_start_to_end(source: Path, base: Path, tmp_path) -> None:
    """#29.1: a second command on a run folder another process is writing is refused at once, naming
    that process, and changes nothing (before, both ran and one loaded the other's best.ckpt)."""
    run = tmp_path / "run"
    assert_succeeded(cli("finetune", source, "--out", run, "--from", base, *QUICK))
    before = snapshot(run)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom nwb_v1former.lock import exclusive\n"
            "with exclusive(sys.argv[1], wait=False):\n    print('held', flush=True)\n    time.sleep(120)",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in (("--from", base, "--overwrite"), ("--resume",)):
            result = cli("finetune", source, "--out", run, *extra, *QUICK)
            assert_refused(result, f"{run} is being written by process {holder.pid}", "choose another")
        assert snapshot(run) == before and partials(tmp_path) == []
    finally:
        holder.kill()
        holder.wait()
    assert_succeeded(cli("finetune", source, "--out", run, "--resume", "--max-epochs", "2", *QUICK[2:]))
    assert not (tmp_path / ".run.lock").exists(), "the lock goes with its holder"
