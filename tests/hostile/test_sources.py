"""#19 point 10: malformed DANDI sources are refused locally, before any server is asked."""

from __future__ import annotations

import time

import pytest

from hostile.checks import assert_refused, cli, cli_process

UNREACHABLE = "http://127.0.0.1:9/api"
"""Nothing listens on port 9: a source that reached for this server would not be refused locally."""


def test_a_malformed_archive_url_is_refused_at_once_without_a_network() -> None:
    """It used to wait on dandiarchive.org for 10 minutes; a fresh process with a deadline proves it no
    longer asks anyone (here, with no network, any request would hang or fail differently)."""
    started = time.monotonic()
    result = cli_process("inspect", "https://dandiarchive.org/dandiset/xyz", timeout=60)
    assert_refused(result, "https://dandiarchive.org/dandiset/xyz", "six digits")
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "source",
    [
        "dandiset:000123@notaversion",
        "DANDI:000123/notaversion",
        "https://dandiarchive.org/dandiset/000123/notaversion",
    ],
)
def test_a_version_that_cannot_exist_is_refused_locally(source: str) -> None:
    result = cli("inspect", source, "--dandi-api-url", UNREACHABLE)
    assert_refused(result, source, "'notaversion' is not a dandiset version", "draft")
