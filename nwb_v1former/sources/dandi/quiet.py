"""The dandi library's own log lines (retries, HTTP errors) kept off the terminal: our one line says it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_dandi() -> Iterator[None]:
    """Keep the dandi library's own log lines (retries, HTTP errors) off the terminal: ours say it."""
    logger = logging.getLogger("dandi")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
