"""#19.8: a training start that fails before its first epoch does not block the next plain run, and a
run folder holding anything a run does not write is never taken over."""

from __future__ import annotations

from pathlib import Path

from hostile.checks import QUICK, assert_refused, assert_succeeded, cli, partials, snapshot


def test_a_failed_start_does_not_block_the_rerun(source: Path, base: Path, tmp_path) -> None:
    run = tmp_path / "run"
    before = snapshot(source)
    failed = cli("finetune", source, "--out", run, "--from", tmp_path / "missing.ckpt", *QUICK)
    assert_refused(failed, "missing.ckpt")
    assert_refused(cli("finetune", source, "--out", run, "--resume", *QUICK), "nothing to resume")
    assert_succeeded(cli("finetune", source, "--out", run, "--from", base, *QUICK))
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
