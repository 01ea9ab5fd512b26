"""Options every command that takes SOURCE arguments shares (inspect, convert, finetune, predict)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from nwb_v1former.sources import ResolvedSource

SOURCE_HELP = (
    "A SOURCE is an .nwb file, an .nwb.zarr store, a folder of them, or dandiset:000123[@version][/glob]."
)

_OPTIONS = (
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder DANDI assets are downloaded into [default: $NWB_V1FORMER_CACHE/dandi, "
        "else ~/.cache/nwb-v1former/dandi].",
    ),
    click.option("--stream", is_flag=True, help="Read DANDI assets in place over HTTP, not downloaded."),
    click.option(
        "--dandi-api-url",
        default=None,
        help="API of another DANDI instance (or set NWB_V1FORMER_DANDI_API_URL), e.g. "
        "https://api.sandbox.dandiarchive.org/api. Embargoed dandisets need DANDI_API_KEY.",
    ),
)


def source_options(command: Callable) -> Callable:
    """Add --cache-dir, --stream and --dandi-api-url (parameters cache_dir, stream, dandi_api_url)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def resolve(
    sources: Sequence[str], *, cache_dir: str | None, stream: bool, dandi_api_url: str | None, quiet: bool
) -> list[ResolvedSource]:
    """The command's SOURCEs as files to read; download progress only on a terminal and not --quiet;
    notes (e.g. a dandiset's draft is used) on stderr unless --quiet."""
    from nwb_v1former.sources import resolve_sources

    return resolve_sources(
        list(sources),
        cache_dir=cache_dir,
        stream=stream,
        api_url=dandi_api_url,
        progress=not quiet and sys.stderr.isatty(),
        on_note=None if quiet else lambda line: click.echo(line, err=True),
    )
