"""Fixtures for the DANDI source tests: simulated sessions (made once) served by a local stand-in archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nwb_builders import write_session

from nwb_v1former.simulate import simulate_and_write
from sources.archive_forms import Forms, serve_forms, write_forms
from sources.dandi_server import NO_MOVIE, SESSION_0, SESSION_1, SMALL, DandiServer, serve


@pytest.fixture(scope="session")
def dandi_files(tmp_path_factory) -> dict[str, Path]:
    """Two simulated sessions, a session without a stimulus movie, and a non-NWB file."""
    root = tmp_path_factory.mktemp("dandi-files")
    sessions = simulate_and_write(root / "sim", layout="allen", animals=2, progress=False, **SMALL)
    readme = root / "README.md"
    readme.write_text("simulated dandiset\n")
    return {
        SESSION_0: sessions[0].data,
        SESSION_1: sessions[1].data,
        NO_MOVIE: write_session(root / "no-movie.nwb", with_stimulus=False),
        "README.md": readme,
    }


@pytest.fixture(scope="module")
def dandi(dandi_files) -> Iterator[DandiServer]:
    """The stand-in archive, one per test module; counters reset before each use by the tests."""
    server = serve(dandi_files)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def forms(tmp_path_factory) -> Forms:
    """A session with its stimulus in external videos laid out by `dandi organize`, and a Zarr session."""
    return write_forms(tmp_path_factory.mktemp("dandi-forms"))


@pytest.fixture(scope="module")
def forms_server(forms) -> Iterator[DandiServer]:
    """The stand-in archive serving those forms, one per test module."""
    server = serve_forms(forms)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch) -> None:
    """No API key, instance or cache from the developer's shell leaks into a test."""
    for name in ("DANDI_API_KEY", "NWB_V1FORMER_DANDI_API_URL", "NWB_V1FORMER_CACHE"):
        monkeypatch.delenv(name, raising=False)
