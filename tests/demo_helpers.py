"""One small demo run shared by the report and demo tests (made on first use, then reused in the session)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from nwb_v1former.cli.main import main

SMALL_DEMO = ("--neurons", "30", "--minutes", "1.0", "--max-epochs", "1")
"""10 trials of 5 s: 2 to train on, 4 validation and 4 test trials (2 clips x 2 repeats each)."""

_made: dict[str, tuple[Path, str]] = {}


def small_demo(factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo's output folder and what `nwb-v1former demo` printed (stdout), run once per session."""
    if "demo" not in _made:
        out = factory.mktemp("small-demo") / "demo"
        result = CliRunner().invoke(main, ["demo", "--out", str(out), "--quiet", *SMALL_DEMO])
        assert result.exit_code == 0, result.output
        _made["demo"] = (out, result.stdout)
    return _made["demo"]


def first_session(run: Path) -> str:
    """The key of the first session a run trained on (its config.yaml lists the stores in order)."""
    return Path(yaml.safe_load((run / "config.yaml").read_text())["data"]["stores"][0]).name
