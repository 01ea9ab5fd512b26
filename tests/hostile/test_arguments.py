"""#29.4: arguments that cannot work are one line and a non-zero exit before any work, sources untouched."""

from __future__ import annotations

from pathlib import Path

from hostile.checks import QUICK, assert_refused, assert_succeeded, cli, partials, snapshot


def test_a_batch_larger_than_every_session_is_refused(simulated, base: Path, tmp_path: Path) -> None:
    store = simulated[1].folder
    result = cli(
        "finetune", store, "--out", tmp_path / "run", "--from", base, "--batch-size", "100000", *QUICK
    )
    assert_refused(result, "100000 windows of each session", "an epoch has no step; lower --batch-size")


def test_a_seed_torch_cannot_take_is_refused(simulated, base: Path, tmp_path: Path) -> None:
    store = simulated[1].folder
    result = cli("finetune", store, "--out", tmp_path / "run", "--from", base, *QUICK, "--seed", str(2**70))
    assert_refused(result, "seed must be a non-negative integer below 2**63")
    assert not (tmp_path / "run").exists()


def test_a_budget_that_is_not_a_number_of_minutes_is_refused(simulated, tmp_path: Path) -> None:
    store = simulated[1].folder
    for budget in ("nan", "inf"):
        result = cli("compare", store, "--out", tmp_path / "cmp", "--budget", budget, "--quiet")
        assert_refused(result, "--budget is minutes of training per model")
    assert not (tmp_path / "cmp").exists()


def test_the_feature_cache_is_never_written_into_a_source(simulated, base: Path, tmp_path: Path) -> None:
    store = simulated[1].folder
    before = snapshot(store)
    cache = store / "cache"
    result = cli(
        "finetune", store, "--out", tmp_path / "run", "--from", base, "--feature-cache-dir", cache, *QUICK
    )
    assert_refused(result, "would equal, contain or sit inside the source")
    assert snapshot(store) == before and not cache.exists() and not partials(store)


def test_resume_refuses_settings_that_differ_from_the_runs_own(simulated, base: Path, tmp_path: Path) -> None:
    """Before, `--resume --strategy full` of a readout run silently trained on as readout."""
    store, run = simulated[1].folder, tmp_path / "run"
    assert_succeeded(cli("finetune", store, "--out", run, "--from", base, *QUICK))
    before = snapshot(run)
    result = cli("finetune", "--out", run, "--resume", "--strategy", "full", *QUICK)
    assert_refused(result, "it was trained with --strategy readout, not full; leave --strategy out")
    assert snapshot(run) == before
    # the run's own values, given again, and a larger --max-epochs continue it
    assert_succeeded(cli("finetune", "--out", run, "--resume", "--max-epochs", "2", *QUICK[2:]))
