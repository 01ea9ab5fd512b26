"""Every benchmark still imports against the package: a renamed or moved name breaks here, in the
default suite, not on the day someone runs the benchmark (their figures are measured by hand)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert len(BENCHMARKS) >= 10


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.stem)
def test_benchmark_imports_and_has_a_main(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imported as when run as a script: siblings (`from model import ...`) by name from benchmarks/,
    not the test packages of the same name (tests/model)."""
    monkeypatch.syspath_prepend(str(path.parent))
    siblings = {sibling.stem for sibling in BENCHMARKS}
    for name in siblings & set(sys.modules):
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(
            module
        )  # top level only: each runs its work under `if __name__ == "__main__"`
    finally:
        for name in siblings & set(sys.modules):
            if getattr(sys.modules[name], "__file__", "").startswith(str(path.parent)):
                del sys.modules[name]
    assert callable(module.main)
    assert module.__doc__ and len(module.__doc__.strip()) > 40  # says what it measures
