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


def test_layers_without_nwb_stay_free_of_pynwb_h5py_dandi_and_click():
    """data/ and model/ must work without the NWB stack (one direction of dependencies)."""
    probe = (
        "import sys, nwb_v1former.data.dataset, nwb_v1former.model.checkpoint, nwb_v1former.metrics; "
        "print(sorted(m for m in ('pynwb', 'h5py', 'dandi', 'click') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
