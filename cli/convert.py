"""`nwb-v1former convert`: NWB sessions -> the common dataset (one store folder per file)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click
from nwb_v1former.cli.reader_options import max_nan_fraction_option, reader_options
from nwb_v1former.cli.source_options import SOURCE_HELP, resolve, source_options

from nwb_v1former.atomic import check_apart
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.progress import Reporter

if TYPE_CHECKING:
    from nwb_v1former.nwb.choices import ReaderChoices


@click.command("convert", epilog=SOURCE_HELP)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to create.")
@max_nan_fraction_option
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--quiet",
    is_flag=True,
    help="Say nothing while converting (by default: progress bars on a terminal; without one, a line "
    "at least every minute).",
)
@source_options
@reader_options
def convert_command(
    sources: tuple[str, ...],
    out: str,
    choices: ReaderChoices,
    max_nan_fraction: float,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
    cache_dir: str | None,
    stream: bool,
    dandi_api_url: str | None,
) -> None:
    """Convert NWB SOURCES into the training-ready common dataset.

    Sessions of a dandiset without a stimulus movie or without ROI responses are skipped, one line each.
    """
    from nwb_v1former.nwb.convert import convert
    from nwb_v1former.sources import local_sources

    check_apart(out, local_sources(sources))  # a folder SOURCE: before it is expanded into files
    resolved = resolve(sources, cache_dir=cache_dir, stream=stream, dandi_api_url=dandi_api_url, quiet=quiet)
    skipped: list[str] = []

    def skip(line: str) -> None:
        skipped.append(line)
        click.echo(line, err=True)

    with Reporter.for_terminal(quiet=quiet).heartbeat(f"convert of {len(resolved)} file(s) into {out}"):
        sessions = convert(
            [source.session_input for source in resolved],
            out,
            overwrite=overwrite,
            choices=choices,
            max_nan_fraction=max_nan_fraction,
            progress=not quiet and sys.stderr.isatty(),
            on_skip=skip,
        )
    origins = {source.file: source.asset for source in resolved}
    rows = []
    for s in sessions:
        asset = origins.get(s.source)
        rows.append(
            {
                "key": s.key,
                "source": str(asset or s.source),
                "folder": str(s.folder),
                "ticks": s.ticks,
                "neurons": s.neurons,
                **({"dandi": asset.provenance()} if asset is not None else {}),
            }
        )
    if as_json:
        click.echo(json.dumps({"out": out, "sessions": rows, "skipped": skipped}, indent=2))
        return
    total = len(rows) + len(skipped)
    click.echo(f"Converted {len(rows)} of {total} session(s) into {out}:")
    for row in rows:
        click.echo(
            f"  {row['key']}: {row['ticks']} ticks at {TICK_RATE_HZ:g} Hz, {row['neurons']} neurons  "
            f"<- {row['source']}"
        )
