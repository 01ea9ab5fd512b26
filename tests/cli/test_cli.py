"""The command line: help, simulate then inspect (the README's main job), and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
from nwb_v1former.cli.main import main

SMALL = ["--neurons", "15", "--minutes", "1", "--clip-seconds", "2", "--quiet"]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand under `group`, as the words that invoke it."""
    paths = [prefix]
    for name, command in group.commands.items():
        paths += (
            command_paths(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
        )
    return paths


def test_every_command_has_help():
    paths = command_paths(main)
    assert len(paths) >= 16 and ("insilico", "tuning") in paths and ("finetune",) in paths
    for command in paths:
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, command
        assert len(result.output.splitlines()) > 3, command  # a description and options, not a bare usage


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
    as_json = json.loads(run("inspect", sessions[1]["data"], "--json").output)
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
