"""What every hostile-input test asserts, through the real CLI (click's runner, in process).

A command given bad input must either succeed with correct output, or refuse with exactly one line
(`Error: ...`, at most MAX_LINE characters, no traceback) and exit 1; sources stay byte-identical and
no partial output is left under any name.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner, Result
from nwb_v1former.cli.main import main

MAX_LINE = 300
PARTIAL_MARKERS = (".partial", "partial-")
OVERLAP = "would equal, contain or sit inside the source"
"""What the refusal of an output overlapping a source says."""
QUICK = ("--max-epochs", "1", "--window", "60", "--warmup-steps", "5", "--quiet", "--no-report")
"""Options that make `finetune` of the micro core take seconds."""


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


_IN_A_PROCESS = """
import json, resource, signal, sys
from click.testing import CliRunner
args, limit = json.loads(sys.argv[1]), int(sys.argv[2])
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from nwb_v1former.cli.main import main
result = CliRunner().invoke(main, args, catch_exceptions=True)
exception = None if result.exception is None else type(result.exception).__name__
print(json.dumps({"exit_code": result.exit_code, "output": result.output, "exception": exception}))
"""


def cli_process(*args: str | Path, file_size_limit: int = 0, timeout: float = 180) -> SimpleNamespace:
    """Run `nwb-v1former ARGS` in a fresh process: real OS limits (`file_size_limit` bytes per file,
    as `ulimit -f`), no pytest warning capture, a hang ends the test. Returns what `cli` returns
    (exit_code, output, exception: SystemExit for a clean exit); TimeoutExpired after `timeout` s."""
    done = subprocess.run(
        [sys.executable, "-c", _IN_A_PROCESS, json.dumps([str(a) for a in args]), str(file_size_limit)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if not done.stdout.strip():
        return SimpleNamespace(exit_code=done.returncode, output=done.stderr, exception=None)
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    name = reported["exception"]
    exception = SystemExit(reported["exit_code"]) if name == "SystemExit" else (name and RuntimeError(name))
    return SimpleNamespace(exit_code=reported["exit_code"], output=reported["output"], exception=exception)
