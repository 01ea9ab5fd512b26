"""The command line: help, simulate then inspect (the README's main job), and one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from nwb_v1former.cli.main import COMMANDS, main

from nwb_v1former.nwb.read import MAX_NAN_FRACTION
from nwb_v1former.run_folder import checkpoint_file
from nwb_v1former.train.finetune import resolve_base

SMALL = ["--neurons", "15", "--minutes", "1", "--clip-seconds", "2", "--quiet"]
CLI = [sys.executable, "-m", "nwb_v1former"]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand under `group`, as the words that invoke it."""
    paths = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        paths += (
            command_paths(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
        )
    return paths


def test_every_command_and_option_has_help():
    paths = command_paths(main)
    assert len(paths) >= 16 and ("insilico", "tuning") in paths and ("finetune",) in paths
    for command in paths:
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, command
        assert len(result.output.splitlines()) > 3, command  # a description and options, not a bare usage
    context = click.Context(main)
    for name, (_, summary) in COMMANDS.items():  # --help lists each by a line of its own, checked here
        command = main.get_command(context, name)
        assert command.name == name and summary.endswith("."), name
        if name in ("predict", "evaluate"):
            continue  # their options are their owners' (issue 25)
        for sub in command.commands.values() if isinstance(command, click.Group) else [command]:
            silent = [p.name for p in sub.params if isinstance(p, click.Option) and not p.help]
            assert not silent, f"{name} {sub.name}: options without help: {silent}"


def test_version_and_help_import_neither_torch_nor_pynwb():
    """They start in a fraction of a second: the library (torch, pynwb: 6 s) is imported when a command
    runs (or shows its own --help, whose choices come from the library)."""
    probe = (
        "import sys\n"
        "from nwb_v1former.cli.main import main\n"
        "for args in (['--version'], ['--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as end:\n"
        "        assert end.code == 0, args\n"
        "import nwb_v1former.cli.train, nwb_v1former.cli.compare, nwb_v1former.cli.insilico\n"
        "import nwb_v1former.cli.inspect, nwb_v1former.cli.convert, nwb_v1former.cli.simulate\n"
        "print(sorted(m for m in ('torch', 'pynwb', 'h5py', 'hdmf', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_checkpoints_are_a_file_or_a_run_folder_in_every_command(tmp_path):
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    best = run_folder / "best.ckpt"
    best.write_bytes(b"weights")
    for given in (run_folder, run_folder / "best", best, str(run_folder)):
        assert checkpoint_file(given) == best
        assert resolve_base(given) == best  # finetune --from and demo --from read them the same way
    empty = tmp_path / "empty-run"
    empty.mkdir()
    for command in (["insilico", "rf"], ["insilico", "tuning", "--out", str(tmp_path / "o")]):
        for missing in (tmp_path / "other.ckpt", empty):
            result = CliRunner().invoke(main, [*command, str(missing)])
            assert result.output.splitlines() == [
                f"Error: {missing}: no such checkpoint file; give a .ckpt file or a run folder holding "
                "best.ckpt"
            ]


def test_fixed_values_are_checked_before_any_work(tmp_path):
    for args, option in (
        (["insilico", "attention", "x.ckpt", "--data", "d", "--tier", "bogus"], "'--tier'"),
        (["pretrain", "s.nwb", "--out", str(tmp_path / "p"), "--preset", "huge"], "'--preset'"),
        (["convert", "s.nwb", "--out", str(tmp_path / "v"), "--split", "halves"], "'--split'"),
        (["simulate", "--out", str(tmp_path / "s"), "--layout", "mine"], "'--layout'"),
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and f"Invalid value for {option}" in result.output, (args, result.output)
        assert "is not one of 'train', 'validation', 'test'" in result.output or option != "'--tier'"
    assert not any(tmp_path.iterdir())
    assert f"[default: {MAX_NAN_FRACTION}]" in run("convert", "--help").output.replace("\n", " ")


def test_attention_takes_data_as_tuning_and_rf_do(tmp_path):
    missing = str(tmp_path / "missing.ckpt")
    neither = CliRunner().invoke(main, ["insilico", "attention", missing])
    assert neither.exit_code == 2 and "give the session to analyse: --data SOURCE" in neither.output
    both = CliRunner().invoke(main, ["insilico", "attention", missing, "d", "--data", "d"])
    assert both.exit_code == 2 and "give the session once" in both.output
    old = CliRunner().invoke(main, ["insilico", "attention", missing, str(tmp_path)])  # the older form
    assert old.stderr.startswith("note: DATA as a second argument is deprecated; write --data DATA")
    assert old.exit_code == 1 and "no such checkpoint file" in old.stderr  # it went on to read CHECKPOINT


def test_simulate_then_inspect(tmp_path):
    out = tmp_path / "sim"
    result = run("simulate", "--out", str(out), "--layout", "openscope", "--animals", "2", *SMALL, "--json")
    assert result.exit_code == 0, result.output
    sessions = json.loads(result.output)["sessions"]
    assert [s["session_id"] for s in sessions] == ["sim-000", "sim-001"]
    assert 0 < sessions[0]["median_noise_ceiling"] < 1
    report = run("inspect", sessions[1]["data"])
    assert report.exit_code == 0
    assert "/processing/ophys/dff/traces" in report.output and "problems: none" in report.output
    (as_json,) = json.loads(run("inspect", sessions[1]["data"], "--json").output)  # a list, even of one
    assert as_json["responses"][0]["shape"] == [len_frames(sessions[1]["data"]), 15]
    folder = run("inspect", str(out), "--json")  # a folder: every .nwb in it, a note on the rest
    both = json.loads(folder.stdout)
    assert [Path(r["path"]).name for r in both] == ["sim-000.nwb", "sim-001.nwb"]
    assert "skipped 3 file(s)" in folder.stderr and "simulation.json" in folder.stderr
    assert all(r["will_use"]["neurons"] == 15 for r in both)


def len_frames(path: str) -> int:
    from nwb_v1former.nwb import inspect_session

    return inspect_session(path).responses[0].shape[0]


def test_existing_output_is_refused_and_kept(tmp_path):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "keep.txt").write_text("lab notes")
    result = CliRunner().invoke(main, ["simulate", "--out", str(out), *SMALL])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {out} already exists; choose another output or pass --overwrite"
    ]
    assert (out / "keep.txt").read_text() == "lab notes"


def test_bad_option_value_is_one_line(tmp_path):
    result = CliRunner().invoke(
        main, ["simulate", "--out", str(tmp_path / "x"), "--minutes", "0.2", "--quiet"]
    )
    assert result.exit_code == 1
    assert "session too short" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists(), "no partial output"


def test_inspect_errors_are_one_line(tmp_path):
    bogus = tmp_path / "bogus.nwb"
    bogus.write_text("hello")
    result = CliRunner().invoke(main, ["inspect", str(bogus)])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "not a readable HDF5 file" in result.output


def test_installed_console_script_and_no_top_level_cli_package(tmp_path):
    script = Path(sys.executable).with_name("nwb-v1former")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("nwb-v1former, version ")
    probe = "import importlib.util, nwb_v1former.cli; print(importlib.util.find_spec('cli') is None)"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert found.stdout.strip() == "True", "a top-level `cli` package must not be installed"


def test_inspect_a_folder_reports_every_file_and_fails_on_unreadable_ones(tmp_path):
    out = tmp_path / "sim"
    assert run("simulate", "--out", str(out), *SMALL).exit_code == 0
    (out / "broken.nwb").write_text("not hdf5")
    result = CliRunner().invoke(main, ["inspect", str(out)])
    assert result.exit_code == 1
    assert "sim-000.nwb  (NWB 2." in result.output
    assert "broken.nwb: not a readable HDF5 file" in result.output
    assert result.output.strip().splitlines()[-1] == "Error: 1 of 2 files could not be read (listed above)"
    reports = json.loads(CliRunner().invoke(main, ["inspect", str(out), "--json"]).stdout)
    assert [(Path(r["path"]).name, r["will_use"] is None) for r in reports] == [
        ("sim-000.nwb", False),
        ("broken.nwb", True),
    ]
    assert "not a readable HDF5 file" in reports[1]["problems"][0]
    alone = CliRunner().invoke(main, ["inspect", str(out / "broken.nwb"), "--json"])
    (report,) = json.loads(alone.stdout)  # the README's promise: an unreadable file is will_use null
    assert report["will_use"] is None and report["path"] == str(out / "broken.nwb")
    assert (
        alone.exit_code == 1 and alone.stderr.startswith("Error: ") and "not a readable HDF5" in alone.stderr
    )


def interrupt_when(
    command: list[str], ready: Callable[[], bool], sent: signal.Signals = signal.SIGINT
) -> tuple[int, list[str]]:
    """Run `command` in a subprocess and send it `sent` (SIGINT: Ctrl-C) once `ready()`; its exit status
    and its stderr lines."""
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # a test run in the background inherits SIGINT ignored (as shells start background jobs), and
        # Python keeps an ignored SIGINT ignored: give the command Ctrl-C as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the command ended before it could be interrupted"
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr.splitlines()


@pytest.mark.parametrize(
    ("sent", "status", "how"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_and_sigterm_exit_130_and_143_saying_how_to_go_on(
    one_store: Path, tmp_path: Path, sent: signal.Signals, status: int, how: str
) -> None:
    run_folder = tmp_path / "run"
    pretrain = [*CLI, "pretrain", str(one_store), "--out", str(run_folder), "--preset", "tiny", "--no-report"]
    code, lines = interrupt_when(pretrain, (run_folder / "config.yaml").is_file, sent)  # training has begun
    # For Ctrl-C a shell reports 130 either way: exit(130), or death by SIGINT after the line and the
    # clean-up (CPython re-sends SIGINT at exit when it judged a KeyboardInterrupt unhandled somewhere;
    # seen in 2 of 4 full-suite runs, never alone, its trigger not pinned down). SIGTERM must give 143.
    shell_status = 128 + sent if code == -sent and sent == signal.SIGINT else code
    assert shell_status == status, "\n".join(lines)
    assert lines[-1] == (
        f"Error: {how}; the run continues from its last finished epoch with the same command, "
        "--resume added, and the same --out"
    )
    assert not any("Traceback" in line or "Aborted" in line for line in lines), lines


@pytest.mark.slow  # 10 s; the exit status and line of an interrupted command are checked above
def test_ctrl_c_in_convert_leaves_nothing_half_written(sim_nwb: Path, tmp_path: Path) -> None:
    converts = tmp_path / "converts"
    converts.mkdir()
    convert = [*CLI, "convert", str(sim_nwb), "--out", str(converts / "data")]
    code, lines = interrupt_when(convert, lambda: any(converts.iterdir()))  # its staging folder is there
    assert code == 130, lines
    assert (
        lines[-1]
        == "Error: interrupted; outputs are written whole or not at all, so run the same command again"
    )
    assert not any(converts.iterdir())  # nothing half-written is left
