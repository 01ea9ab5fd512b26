"""What every hostile-input test asserts, through the real CLI (click's runner, in process).

A command given bad input must either succeed with correct output, or refuse with exactly one line
(`Error: ...`, at most MAX_LINE characters, no traceback) and exit 1; sources stay byte-identical and
no partial output is left under any name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner, Result
from nwb_v1former.cli.main import main

MAX_LINE = 300
PARTIAL_MARKERS = (".partial", "partial-")


def cli(*args: str | Path) -> Result:
    """Run `nwb-v1former ARGS` in this process; exceptions are caught so a traceback shows as a failure."""
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=True)


def assert_refused(result: Result, *expected: str) -> str:
    """Exit 1 with one `Error:` line of at most MAX_LINE characters containing every `expected` text."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, f"exit {result.exit_code}, exception {result.exception!r}: {result.output}"
    assert isinstance(result.exception, SystemExit), f"raised {result.exception!r}"
    assert len(lines) == 1, f"{len(lines)} lines instead of one:\n{result.output}"
    line = lines[0]
    assert line.startswith("Error: "), line
    assert len(line) <= MAX_LINE, f"{len(line)} characters: {line}"
    assert "Traceback" not in result.output
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    return line


def assert_succeeded(result: Result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}, {result.exception!r}: {result.output}"


def snapshot(*roots: Path) -> dict[Path, str]:
    """sha256 of every file under (or at) each root: compare before and after to prove nothing changed."""
    digests = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def partials(root: Path) -> list[Path]:
    """Every file or folder under `root` whose name marks an unfinished write."""
    return [path for path in root.rglob("*") if any(marker in path.name for marker in PARTIAL_MARKERS)]
