"""The code base stays ruff-clean (lint and format), so style never drifts between contributors."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def test_ruff_lint_and_format_are_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    """The layers and the NWB-free rooms of pyproject.toml's [tool.importlinter], over whole packages."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "0 broken" in result.stdout, result.stdout[-3000:] + result.stderr


def test_nothing_below_the_command_line_imports_it():
    importers = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "nwb_v1former").rglob("*.py")
        if "nwb_v1former.cli" in path.read_text() and path.name != "__main__.py"
    ]
    assert importers == []
